"""What of a Python file counts as code: its syntax tree, comments, formatting and docstrings
set aside, unless something reads them.

Two versions of a file whose syntax trees without docstrings are equal (``parse``,
``without_docstrings``; ``first_difference`` and ``code_change`` say where they differ) run
alike, unless code reads docstrings (``reads_docstrings``: then they count as code, in every
file when one reads another object's, ``docstrings_read``) or source text and line numbers
(``source_reader``: the names of ``READS_SOURCE``, allowed only in the files of ``REVIEWED``;
``unreviewed_reader``). ``cnnbench refresh`` (``cnnbench.review.refresh``) records an edit of
this kind without rerunning, and the code fingerprint of each run (``cnnbench.training.code``)
digests the same trees (``code``), so an edit that refresh records leaves it as it was.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Container, Iterable, Iterator

from cnnbench.errors import CnnbenchError

#: Names whose use in code reads source text, docstrings or line numbers, so that equal
#: syntax trees may behave differently.
READS_SOURCE = frozenset({
    "inspect", "linecache", "tokenize", "ast", "dis", "pydoc", "traceback", "marshal",
    "getsource", "getsourcelines", "getsourcefile", "getfile", "getdoc", "getcomments",
    "findsource", "getframeinfo", "get_docstring", "get_source", "get_data",
    "_getframe", "f_lineno", "f_code", "f_back", "tb_lineno", "__code__", "co_firstlineno",
    "co_lines", "co_positions", "co_lnotab", "co_linetable", "__file__", "__loader__",
    "Lambda"})
#: Files of the project allowed to read source text, each with the reason it is safe.
REVIEWED: dict[str, str] = {
    "src/cnnbench/models/__init__.py":
        "the model registry parses model files with ast and reads only their top-level "
        "function names and string assignments (DISPLAY_NAME): no docstring, comment or "
        "line number",
    "src/cnnbench/models/saving.py":
        "it names Lambda only as text to find in a load error's message, to say the fix",
    "src/cnnbench/source.py":
        "it parses files with ast to compare and digest their syntax trees as this check "
        "does (docstrings kept where it keeps them), reading line numbers only to name a "
        "differing line, so two versions refresh takes as equal digest alike",
}
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


def source_reader(tree: ast.Module) -> tuple[int, str] | None:
    """``(line, name)`` of the first use of a name of ``READS_SOURCE`` in the code; None."""
    found = [(getattr(node, "lineno", 1), min(names(node) & READS_SOURCE))
             for node in ast.walk(tree) if names(node) & READS_SOURCE]
    return min(found) if found else None


def parse_files(paths: Iterable[str], read: Callable[[str], bytes]) -> dict[str, ast.Module]:
    """``{path: syntax tree}`` of the files of ``paths`` that ``read`` finds, in order."""
    trees = {}
    for path in paths:
        try:
            trees[path] = parse(read(path), path)
        except FileNotFoundError:
            continue
    return trees


def docstrings_read(trees: dict[str, ast.Module], exempt: Container[str] = REVIEWED) -> bool:
    """Whether a file of ``trees`` (``{path: tree}``) not in ``exempt`` reads another
    object's docstring: then docstrings count as code in every file."""
    return any(reads_other_docstrings(tree) for path, tree in trees.items() if path not in exempt)


def unreviewed_reader(trees: dict[str, ast.Module]) -> str:
    """Why the code of ``trees`` may read source text: the first use of a name of
    ``READS_SOURCE`` in a file not in ``REVIEWED``; '' when none."""
    for path, tree in trees.items():
        if (use := source_reader(tree)) and path not in REVIEWED:
            return (f"{path}:{use[0]} uses {use[1]}, which can read source text, docstrings "
                    "or line numbers")
    return ""


def imports(tree: ast.Module) -> set[str]:
    """The dotted names a file imports anywhere (``from a import b``: ``a`` and ``a.b``),
    with their parents."""
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
    return modules


def code(tree: ast.Module, docstrings: bool) -> str:
    """The code of a syntax tree as text, without line numbers and (unless ``docstrings``)
    docstrings; ``tree`` loses them in place."""
    return ast.dump(tree if docstrings else without_docstrings(tree), include_attributes=False)


def _nodes(node: object, line: int) -> Iterator[tuple[int, object]]:
    """A syntax tree in order: each node's type, each leaf's type and value, each list's
    end, with the line it is on (a list's end: the line its last item ends on)."""
    if isinstance(node, ast.AST):
        line = getattr(node, "lineno", line)
        yield line, type(node)
        for name in node._fields:
            yield from _nodes(getattr(node, name, None), line)
    elif isinstance(node, list):
        for item in node:
            yield from _nodes(item, line)
        yield getattr(node[-1], "end_lineno", line) if node else line, "end of list"
    else:  # leaf values: ``1``, ``1.0`` and ``True`` differ
        yield line, (type(node), repr(node))


def first_difference(old: str | bytes, new: str | bytes, docstrings: bool = False,
                     filename: str = "<source>") -> int | None:
    """The first line of ``new`` whose code differs from ``old`` (docstrings counting as
    code only with ``docstrings``); None when none does."""
    trees = [parse(text, filename) for text in (old, new)]
    if not docstrings:
        trees = [without_docstrings(tree) for tree in trees]
    return next((line for (_, a), (line, b) in zip(*(_nodes(tree, 1) for tree in trees))
                 if a != b), None)


def _line(text: bytes, number: int) -> str:
    """Line ``number`` of a file's bytes, stripped (Python's line ends only)."""
    lines = re.split(r"\r\n|\r|\n", text.decode(errors="replace"))
    return lines[number - 1].strip() if 0 < number <= len(lines) else ""


def code_change(path: str, old: bytes, new: bytes, every: bool = False) -> str:
    """Where ``new`` differs in code from ``old``, two versions of ``path``, as a message; ''
    when nowhere. Docstrings count as code when either reads ``__doc__``, or with ``every``."""
    docstrings = reads_docstrings(parse(old, path)) or reads_docstrings(parse(new, path)) or every
    line = first_difference(old, new, docstrings, path)
    if line is None:
        return ""
    reads = (" (__doc__ is read, so docstrings count as code)"
             if docstrings and first_difference(old, new, False, path) is None else "")
    return f"{path}:{line} differs in code{reads}: `{_line(new, line)}`"
