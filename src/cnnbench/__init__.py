"""cnnbench: a reproducible, DVC-orchestrated benchmark of five classic CNNs on CIFAR-10.

The library behind the pipeline stages in ``stages/``:

- ``config``   typed, validated params (params.yaml)
- ``data``     fetch and normalise CIFAR-10 (official tarball or image-folder archives)
- ``models``   LeNet5, AlexNet8, VGG16, Inception10, ResNet18 in backend-neutral Keras 3
- ``train``    training with per-epoch DVCLive logs
- ``evaluate`` test metrics, confusion matrix, per-class accuracy, inference throughput

Run the whole pipeline with ``dvc repro``; see README.md.
"""

__version__ = "0.1.0"
