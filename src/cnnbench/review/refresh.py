"""Record edits that cannot change any output (comments, docstrings, formatting) without rerunning.

    cnnbench refresh [--dry]

For each stage stale only because Python files it depends on changed: when each file's
syntax tree, comments, docstrings and formatting set aside, equals that of the version
``dvc.lock`` recorded (found in git history by its md5), DVC records the new md5s; nothing
runs. Anything more leaves the stage stale, with the reason, and exits 1. ``--dry`` only
reports. docs/guide/review.md says what this guarantees and what not.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from cnnbench import runner
from cnnbench.errors import CnnbenchError
from cnnbench.files import atomic_path
from cnnbench.review.project import (ABSENT, changes, dvc, reason, shallow, stale_stages, status,
                                     versions)
from cnnbench.training.code import (names, parse, reads_docstrings, reads_other_docstrings,
                                    without_docstrings)

LOCK = Path("dvc.lock")
#: What the one-line reports call the edits that refresh records.
EDITS = "comments, docstrings, formatting"
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
    "src/cnnbench/training/code.py":
        "it digests each file's syntax tree as refresh compares it (docstrings kept where "
        "refresh keeps them), so two versions refresh takes as equal digest alike",
}


def source_reader(tree: ast.Module) -> tuple[int, str] | None:
    """``(line, name)`` of the first use of a name of ``READS_SOURCE`` in the code; None."""
    found = [(getattr(node, "lineno", 1), min(names(node) & READS_SOURCE))
             for node in ast.walk(tree) if names(node) & READS_SOURCE]
    return min(found) if found else None


def _first_node(old: object, new: object, line: int) -> int | None:
    """The line (in ``new``) of the first node pair that differs, walking both in order."""
    if isinstance(old, list) and isinstance(new, list):
        for a, b in zip(old, new):
            if (found := _first_node(a, b, line)) is not None:
                return found
        if len(new) > len(old):  # an added node
            return getattr(new[len(old)], "lineno", line)
        if len(old) > len(new):  # a removed one: the line after what is left
            return getattr(new[-1], "end_lineno", line) if new else line
        return None
    if isinstance(old, ast.AST) and isinstance(new, ast.AST):
        line = getattr(new, "lineno", line)
        if type(old) is not type(new):
            return line
        for name in new._fields:
            if (found := _first_node(getattr(old, name, None), getattr(new, name, None),
                                     line)) is not None:
                return found
        return None
    # leaf values: ``1``, ``1.0`` and ``True`` differ
    return None if type(old) is type(new) and repr(old) == repr(new) else line


def first_difference(old: str | bytes, new: str | bytes, docstrings: bool = False,
                     filename: str = "<source>") -> int | None:
    """The first line of ``new`` whose code differs from ``old`` (docstrings counting as
    code only with ``docstrings``); None when none does."""
    trees = [parse(text, filename) for text in (old, new)]
    if not docstrings:
        trees = [without_docstrings(tree) for tree in trees]
    old_tree, new_tree = trees
    if ast.dump(old_tree, include_attributes=False) == ast.dump(new_tree,
                                                                include_attributes=False):
        return None
    return _first_node(old_tree, new_tree, 1) or 1


def recorded_version(path: str, digest: str, size: int | None = None) -> bytes:
    """The bytes of ``path`` whose md5 (and ``size``) ``dvc.lock`` recorded, from git history;
    a one-line error when no commit holds them."""
    for data in versions(path):
        if (size is None or len(data) == size) and hashlib.md5(data).hexdigest() == digest:
            return data
    where = ("this clone is shallow: run `git fetch --unshallow`, then try again"
             if shallow() else
             "fetch the branch that recorded it, or run `dvc repro` for its stages")
    raise CnnbenchError(f"{path}: the version dvc.lock recorded (md5 {digest}) is in no "
                        f"commit of this clone's git history; {where}")


@dataclass
class Verdict:
    """What refresh makes of one stale stage: record it (``why`` empty) or leave it stale."""

    stage: str
    files: list[str] = field(default_factory=list)  # the changed Python files
    why: str = ""  # the reason it stays stale
    updates: dict[str, tuple[str, int]] = field(default_factory=dict)  # path: (md5, size)

    @property
    def harmless(self) -> bool:
        return not self.why


def lock_entries() -> dict:
    """The ``stages`` of ``dvc.lock``."""
    try:
        text = LOCK.read_text()
    except FileNotFoundError:
        raise CnnbenchError(f"{LOCK}: not found; run from the project root, after "
                            "`dvc repro`") from None
    return (yaml.safe_load(text) or {}).get("stages") or {}


def pipeline() -> dict[str, dict]:
    """Each stage of ``dvc.yaml`` as ``dvc.lock`` records it: cmd, deps, params and outs."""
    from dvc.dependency.param import ParamsDependency

    stages = {}
    with dvc("stage list") as repo:
        for stage in repo.index.stages:
            params = {d.def_path: sorted(d.params) for d in stage.deps
                      if isinstance(d, ParamsDependency)}
            stages[stage.addressing] = {
                "cmd": stage.cmd, "params": params,
                "deps": sorted(d.def_path for d in stage.deps
                               if not isinstance(d, ParamsDependency)),
                "outs": sorted(o.def_path for o in stage.outs)}
    return stages


def _shape(shape: dict | None, entry: dict) -> str:
    """Why the stage's ``dvc.yaml`` shape differs from its ``dvc.lock`` entry; '' if not."""
    if shape is None:
        return "not a stage of ./dvc.yaml"
    if shape["cmd"] != entry.get("cmd"):
        return "changed command"
    for kind in ("deps", "outs"):
        recorded = {item.get("path") for item in entry.get(kind) or []}
        if added := sorted(set(shape[kind]) - recorded):
            return f"{kind[:-1]} {added[0]} added to dvc.yaml"
        if removed := sorted(recorded - set(shape[kind])):
            return f"{kind[:-1]} {removed[0]} removed from dvc.yaml"
    recorded_params = entry.get("params") or {}
    for path, keys in shape["params"].items():
        if keys and set(keys) != set(recorded_params.get(path) or {}):
            return f"params of {path} added to or removed from dvc.yaml"
    if set(recorded_params) - set(shape["params"]):
        return "params removed from dvc.yaml"
    return ""


def _changes(entries: list) -> Iterator[tuple[str | None, str]]:
    """``(changed Python file, '')`` or ``(None, reason)`` for a stage's ``dvc status``
    entries; absent outputs and absent non-Python dependencies are no change."""
    for kind, path, state in changes(entries):
        if kind == "dep" and path.endswith(".py"):
            yield (path, "") if state == "modified" else (None, reason(kind, path, state))
        elif kind in ("", "param") or state not in ABSENT:
            yield None, reason(kind, path, state) + (", not Python source" * (kind == "dep"))


def _line(text: bytes, number: int) -> str:
    """Line ``number`` of a file's bytes, stripped (Python's line ends only)."""
    lines = text.decode(errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    lines = lines.split("\n")
    return lines[number - 1].strip() if 0 < number <= len(lines) else ""


def examine(stage: str, entries: list, entry: dict | None, shape: dict | None,
            lookup: Callable[[str, str, int | None], bytes] = recorded_version,
            read: Callable[[str], bytes] = lambda path: Path(path).read_bytes()) -> Verdict:
    """Whether ``stage`` (its ``dvc status`` ``entries``, ``dvc.lock`` ``entry`` and
    ``dvc.yaml`` ``shape``) is stale only by edits that cannot change any output."""
    verdict = Verdict(stage)
    changes = list(_changes(entries))
    verdict.files = sorted({path for path, _ in changes if path})
    if entry is None:
        verdict.why = "not in dvc.lock: it never ran"
        return verdict
    verdict.why = next((why for path, why in changes if why), "") or _shape(shape, entry)
    if verdict.why or not verdict.files:
        verdict.why = verdict.why or "no changed Python file"
        return verdict
    deps = {dep.get("path"): dep for dep in entry.get("deps") or []}
    sources = {}
    for path in sorted(p for p in deps if p.endswith(".py")):
        try:
            sources[path] = parse(read(path), path)
        except FileNotFoundError:
            continue  # a deleted file is in the status, hence refused above
        except CnnbenchError as err:
            verdict.why = str(err)
            return verdict
    every_docstring = any(reads_other_docstrings(tree) for path, tree in sources.items()
                          if path not in REVIEWED)
    for path, tree in sources.items():
        use = source_reader(tree)
        if use and path not in REVIEWED:
            verdict.why = (f"{path}:{use[0]} uses {use[1]}, which can read source text, "
                           "docstrings or line numbers")
            return verdict
    for path in verdict.files:
        recorded = deps.get(path) or {}
        if recorded.get("hash") != "md5" or not recorded.get("md5"):
            verdict.why = f"{path}: dvc.lock has no DVC 3 md5 of it"
            return verdict
        new = read(path)
        old = lookup(path, recorded["md5"], recorded.get("size"))
        try:
            docstrings = (reads_docstrings(parse(old, path)) or reads_docstrings(sources[path])
                          or every_docstring)
            line = first_difference(old, new, docstrings, path)
        except CnnbenchError as err:  # the recorded version is not valid Python
            verdict.why = f"{err} (the version dvc.lock recorded)"
            return verdict
        if line is not None:
            reads = (" (__doc__ is read, so docstrings count as code)"
                     if docstrings and first_difference(old, new, False, path) is None else "")
            verdict.why = f"{path}:{line} differs in code{reads}: `{_line(new, line)}`"
            return verdict
        verdict.updates[path] = (hashlib.md5(new).hexdigest(), len(new))
    return verdict


def verdicts(status: dict, strict: bool = True) -> list[Verdict]:
    """A verdict for each stale stage of a ``status()``; a recorded version git does not hold
    is an error, or without ``strict`` a reason to leave that stage stale."""
    stale = stale_stages(status)
    if not stale:
        return []
    entries, shapes = lock_entries(), pipeline()
    lookup = cache(recorded_version)  # one look-up a file version, however many stages share it
    results = []
    for stage in stale:
        try:
            results.append(examine(stage, status[stage], entries.get(stage), shapes.get(stage),
                                   lookup))
        except CnnbenchError as err:
            if strict:
                raise
            results.append(Verdict(stage, why=str(err)))
    return results


def harmless(status: dict) -> dict[str, list[str]]:
    """``{stage: [changed file, ...]}`` of the stale stages refresh would record."""
    return {v.stage: v.files for v in verdicts(status, strict=False) if v.harmless}


def record(updates: dict[str, dict[str, tuple[str, int]]]) -> None:
    """Have DVC record each stage's changed files in ``dvc.lock``; if ``dvc status`` still
    lists those stages, put the old ``dvc.lock`` back and fail."""
    before = LOCK.read_text()
    with dvc("commit") as repo, repo.lock:
        for stage in repo.index.stages:
            if stage.addressing in updates:
                for dep in stage.deps:
                    if dep.def_path in updates[stage.addressing]:
                        dep.save()
                stage.dump(update_pipeline=False)
    if still := [stage for stage in stale_stages(status()) if stage in updates]:
        with atomic_path(LOCK) as tmp:
            tmp.write_text(before)
        raise CnnbenchError(f"dvc status still lists {', '.join(still)} after recording; "
                            f"{LOCK} left as it was")


def main(argv: list[str] | None = None) -> None:
    parser = runner.parser(__doc__, params=False, prog="cnnbench refresh")
    parser.add_argument("--dry", action="store_true",
                        help="only say which stages would be recorded; write nothing")
    args = parser.parse_args(argv)
    results = verdicts(status())
    if not results:
        print("refresh: nothing to record: results are current (dvc.lock matches the code "
              "and params)")
        return
    good = [v for v in results if v.harmless]
    if good and not args.dry:
        record({v.stage: v.updates for v in good})
    for verdict in good:
        print(f"refresh: {'would record' if args.dry else 'recorded'} {verdict.stage} "
              f"({EDITS} only): {', '.join(verdict.files)}")
    left = [v for v in results if not v.harmless]
    for verdict in left:
        print(f"refresh: left {verdict.stage} stale: {verdict.why}")
    if left:
        print(f"refresh: {len(left)} stale stage{'s' * (len(left) > 1)} not recorded "
              f"({', '.join(v.stage for v in left)}): run `dvc repro`")
        raise SystemExit(1)
