"""The code a run trained with, as a fingerprint that comments and formatting do not move.

``code_digests`` gives, for a stage script and the network file it trains, every file of the
package they import (directly or not, parent packages included; the stage wrapper
``cnnbench/runner.py`` left out, as ``dvc.yaml`` leaves it out), each as a short digest of its
syntax tree without comments, formatting and docstrings. The train stage records it in its
training log (``code``), so a run and each seed repeat say what code produced them
(``cnnbench.report.provenance``). The syntax trees are the ones ``cnnbench refresh`` compares
(``parse``, ``without_docstrings``, ``reads_docstrings``), so an edit that refresh records
leaves the fingerprint as it was, and any other edit changes it.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
from pathlib import Path

from cnnbench.errors import CnnbenchError

PACKAGE = "cnnbench"
#: Imported by every stage script, shapes no output (``dvc.yaml`` does not list it either).
WRAPPER = "cnnbench.runner"
_BODIES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def parse(source: str | bytes, filename: str = "<source>") -> ast.Module:
    """``source``'s syntax tree; a syntax error is a one-line error naming the line.

    Bytes are decoded as Python does (a coding comment included), so a changed encoding
    that changes a string shows as a changed string."""
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as err:
        raise CnnbenchError(f"{filename}:{err.lineno}: not valid Python ({err.msg})") from None


def _is_docstring(node: ast.stmt) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str))


def without_docstrings(tree: ast.Module) -> ast.Module:
    """``tree`` with the docstring of the module and of every class and function removed
    (in place); a body left empty gets a ``pass``, the same on both sides of a comparison."""
    for node in ast.walk(tree):
        if isinstance(node, _BODIES) and node.body and _is_docstring(node.body[0]):
            first = node.body.pop(0)
            if not node.body:
                node.body.append(ast.copy_location(ast.Pass(), first))
    return tree


def names(node: ast.AST) -> set[str]:
    """The identifiers a node uses: a name, an attribute, an import, or a string constant
    (``getattr(obj, "__doc__")``); each dotted part of an import counts."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    if isinstance(node, ast.alias):
        return set(node.name.split("."))
    if isinstance(node, ast.ImportFrom):
        return set((node.module or "").split("."))
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    return set()


def reads_docstrings(tree: ast.Module) -> bool:
    """Whether the code (not a comment or docstring) mentions ``__doc__``."""
    return any("__doc__" in names(node) for node in ast.walk(tree))


def reads_other_docstrings(tree: ast.Module) -> bool:
    """Whether the code reads the ``__doc__`` of an object (``build.__doc__``,
    ``getattr(module, "__doc__")``), which may be defined in another file."""
    return any(isinstance(node, (ast.Attribute, ast.Constant)) and "__doc__" in names(node)
               for node in ast.walk(tree))


def _imports(tree: ast.Module) -> set[str]:
    """The package's modules a file imports anywhere, with their parent packages."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    modules = set()
    for name in found:
        parts = name.split(".")
        modules |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return {m for m in modules if m.split(".")[0] == PACKAGE and m != WRAPPER}


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
    itself = _file(__name__)  # its code names __doc__ to find it, and reads none
    every = any(reads_other_docstrings(tree) for path, tree in trees.items() if path != itself)
    digests = {}
    for path, tree in sorted(trees.items()):
        kept = tree if every or reads_docstrings(tree) else without_docstrings(tree)
        text = ast.dump(kept, include_attributes=False)
        digests[_key(path)] = hashlib.sha256(text.encode()).hexdigest()[:12]
    return digests
