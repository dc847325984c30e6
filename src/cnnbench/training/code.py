"""The code a run trained with, as a fingerprint that comments and formatting do not move.

``code_digests`` gives, for a stage script and the network file it trains, every file of the
package they import (directly or not, parent packages included; the stage wrapper
``cnnbench/runner.py`` left out, as ``dvc.yaml`` leaves it out), each as a short digest of its
syntax tree without comments, formatting and docstrings. The train stage records it in its
training log (``code``), so a run and each seed repeat say what code produced them
(``cnnbench.report.provenance``). The syntax trees are the ones ``cnnbench refresh`` compares
(``cnnbench.source``), so an edit that refresh records leaves the fingerprint as it was, and
any other edit changes it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

from cnnbench.source import code, docstrings_read, imports, parse, reads_docstrings

PACKAGE = "cnnbench"
#: Imported by every stage script, shapes no output (``dvc.yaml`` does not list it either).
WRAPPER = "cnnbench.runner"


def _imports(tree) -> set[str]:
    """The package's modules a file imports anywhere, with their parent packages."""
    return {m for m in imports(tree) if m.split(".")[0] == PACKAGE and m != WRAPPER}


def _file(module: str) -> str | None:
    """The source file of a module of the package; None for a name that is not a module
    (``from cnnbench.errors import CnnbenchError``)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = spec.origin if spec else None
    return origin if origin and origin.endswith(".py") else None


def _key(path: str) -> str:
    """A file's name in the fingerprint: relative to the current directory (the project
    root, as in ``dvc.yaml``), or to the package's folder when imported from elsewhere."""
    relative = os.path.relpath(path)
    if relative.startswith(".."):
        package = Path(importlib.util.find_spec(PACKAGE).origin).parent.parent
        relative = os.path.relpath(path, package)
    return Path(relative).as_posix()


def code_digests(*entries: str) -> dict[str, str]:
    """``{path: digest}`` of ``entries`` (files relative to the current directory, or an
    architecture given as a module or a package model's key) and every
    file of the package they import (module docstring). A file that reads ``__doc__``, or
    every file when one reads another object's, keeps its docstrings, as refresh keeps them."""
    trees = {}
    queue = [e if e.endswith(".py") else _file(e) or _file(f"{PACKAGE}.models.{e}")
             for e in entries]
    while queue:
        path = queue.pop()
        if path is None or path in trees:
            continue
        trees[path] = parse(Path(path).read_bytes(), path)
        queue += [f for f in map(_file, sorted(_imports(trees[path]))) if f]
    # cnnbench.source names __doc__ to find it, and reads none
    every = docstrings_read(trees, exempt={_file("cnnbench.source")})
    digests = {}
    for path, tree in sorted(trees.items()):
        text = code(tree, every or reads_docstrings(tree))
        digests[_key(path)] = hashlib.sha256(text.encode()).hexdigest()[:12]
    return digests
