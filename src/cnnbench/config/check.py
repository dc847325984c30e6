"""``cnnbench check``: validate the whole ``params.yaml`` before DVC runs any stage.

    cnnbench check [--params params.yaml]

DVC reads ``params.yaml`` itself before any stage starts, and a stage reads only what
``dvc.yaml`` lists, so some mistakes would otherwise stop in DVC's own parser (a ``models``
entry without ``architecture``: ``Could not find 'item.architecture'``) or pass silently (a
section no stage reads). This runs ``load_params``, the stages' own validation, on the
whole file, with every architecture's file looked up in the project (the params file's
folder); each problem is one line naming the key and what to write. ``make repro`` and
the review workflow run it before ``dvc repro``.
"""

from __future__ import annotations

from pathlib import Path

from cnnbench import runner
from cnnbench.config import load_params


def main(argv: list[str] | None = None) -> None:
    args = runner.parser(__doc__, prog="cnnbench check").parse_args(argv)
    path = Path(args.params)
    params = load_params(path, root=path.parent)
    print(f"{path}: valid; {len(params.models)} models: {', '.join(params.models)}")
