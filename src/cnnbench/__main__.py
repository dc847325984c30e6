"""``python -m cnnbench``: the ``cnnbench`` command (``cnnbench.cli``)."""

from cnnbench.cli import main

raise SystemExit(main())
