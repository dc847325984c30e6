"""Helpers shared by the tests: params files with some keys changed."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def changed_params(base: dict | None = None, **changes) -> dict:
    """A copy of ``base`` (default: the project's params.yaml) with keys set.

    Keys are paths joined by ``__`` (``train__epochs=2``); the value None deletes the key.
    """
    params = copy.deepcopy(DEFAULT_PARAMS if base is None else base)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = params
        for key in parents:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return params


def write_params(path: Path, base: dict | None = None, **changes) -> Path:
    """Write ``changed_params(base, **changes)`` to ``path`` as YAML."""
    path.write_text(yaml.safe_dump(changed_params(base, **changes), sort_keys=False))
    return path
