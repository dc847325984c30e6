"""cnnbench: a reproducible, DVC-orchestrated benchmark of five classic CNNs on CIFAR-10.

The library behind the pipeline stages in ``stages/``. Its folders follow the data; a
stage depends on one wing and the ground floor, never on a wing above its own:

Ground floor (every stage may use it; it changes rarely):

- ``config``    params.yaml into frozen, validated dataclasses (params, builder, merge rules,
                ``cnnbench check``)
- ``errors``    the error classes a user can cause, each reported as one line
- ``files``     atomic writes and checksums: an output is complete or absent
- ``stop``      the stop flag that Ctrl-C and SIGTERM set
- ``machine``   what hardware this is: CPU, features, GPUs, backend and versions
- ``source``    what of a Python file counts as code: syntax trees without docstrings, and
                what reads source text (for ``cnnbench refresh`` and the code fingerprint)
- ``runner``    the stage wrapper (one-line errors, signals, quiet TensorFlow start-up);
                it shapes no output, so no stage depends on it
- ``cli``       the ``cnnbench`` command, which runs the modules of ``review`` and ``tools``
                (and ``config.check``)

Wings, in pipeline order:

- ``data``      fetch, readers (the untrusted-input boundary), prepare, dataset, corrupt
- ``models``    one module per network, shared blocks, the registry, MACs counting, saving
                (a trained network loaded; a new one checked before it trains)
- ``training``  train, recipe, inputs, checkpoint, distribute, logs
- ``evaluate``  a trained model's test metrics, confusion matrix and throughput
- ``robustness`` a trained model on corrupted test images, and its calibration
- ``report``    results, statistics, noise, summary, figures (the plot and summarise stages)
- ``review``    gate, refresh, compare, comment, review, experiments, repeats, paths
                (pull requests and DVC experiments; ``report`` never imports it)
- ``tools``     bench, estimate, build (the Makefile's build picker)

Run the whole pipeline with ``dvc repro``; see README.md. The version is the package's
(``importlib.metadata.version("cnnbench")``), kept in pyproject.toml only.
"""
