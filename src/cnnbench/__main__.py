"""``python -m cnnbench``: the ``cnnbench`` command (``cnnbench.commands``)."""

from cnnbench.commands import main

raise SystemExit(main())
