"""Record edits that cannot change any output (comments, docstrings, formatting) without rerunning.

    cnnbench refresh [--dry]

For each stage stale only because Python files it depends on changed: when each file's
syntax tree, comments, docstrings and formatting set aside, equals that of the version
``dvc.lock`` recorded (found in git history by its md5), DVC records the new md5s; nothing
runs. Anything more leaves the stage stale, with the reason, and exits 1. ``--dry`` only
reports. docs/guide/review.md says what this guarantees and what not.
"""

from __future__ import annotations

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
from cnnbench.source import code_change, docstrings_read, parse_files, unreviewed_reader

LOCK = Path("dvc.lock")


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


def _changes(entries: list, entry: dict) -> Iterator[tuple[str | None, str]]:
    """``(changed Python file, '')`` or ``(None, reason)`` for a stage's ``dvc status``
    entries; absent outputs and absent non-Python dependencies that its ``dvc.lock``
    ``entry`` records are no change."""
    recorded = {item.get("path") for kind in ("deps", "outs") for item in entry.get(kind) or []}
    for kind, path, state in changes(entries):
        if kind in ("dep", "out") and path not in recorded:
            yield None, f"{kind} {path} added to dvc.yaml"
        elif kind == "dep" and path.endswith(".py"):
            yield (path, "") if state == "modified" else (None, reason(kind, path, state))
        elif kind in ("", "param") or state not in ABSENT:
            yield None, reason(kind, path, state) + (", not Python source" * (kind == "dep"))


def _code(files: list[str], deps: dict[str, dict], lookup: Callable, read: Callable) -> str:
    """Why the changed Python ``files`` may run otherwise than the versions of ``deps`` (a
    stage's ``dvc.lock`` deps) did; '' when they cannot."""
    try:
        sources = parse_files(sorted(p for p in deps if p.endswith(".py")), read)
    except CnnbenchError as err:
        return str(err)
    if why := unreviewed_reader(sources):
        return why
    every = docstrings_read(sources)
    for path in files:
        recorded = deps.get(path) or {}
        if recorded.get("hash") != "md5" or not recorded.get("md5"):
            return f"{path}: dvc.lock has no DVC 3 md5 of it"
        new = read(path)
        old = lookup(path, recorded["md5"], recorded.get("size"))
        try:
            if why := code_change(path, old, new, every):
                return why
        except CnnbenchError as err:  # the recorded version is not valid Python
            return f"{err} (the version dvc.lock recorded)"
    return ""


def examine(stage: str, entries: list, entry: dict | None,
            lookup: Callable[[str, str, int | None], bytes] = recorded_version,
            read: Callable[[str], bytes] = lambda path: Path(path).read_bytes()) -> Verdict:
    """Whether ``stage`` (its ``dvc status`` ``entries`` and ``dvc.lock`` ``entry``) is stale
    only by edits that cannot change any output."""
    if entry is None:
        return Verdict(stage, why="not in dvc.lock: it never ran")
    changes = list(_changes(entries, entry))
    files = sorted({path for path, _ in changes if path})
    why = next((why for _, why in changes if why), "" if files else "no changed Python file")
    deps = {dep.get("path"): dep for dep in entry.get("deps") or []}
    return Verdict(stage, files, why or _code(files, deps, lookup, read))


def verdicts(status: dict, strict: bool = True) -> list[Verdict]:
    """A verdict for each stale stage of a ``status()``; a recorded version git does not hold
    is an error, or without ``strict`` a reason to leave that stage stale."""
    stale = stale_stages(status)
    if not stale:
        return []
    entries = lock_entries()
    lookup = cache(recorded_version)  # one look-up a file version, however many stages share it
    results = []
    for stage in stale:
        try:
            results.append(examine(stage, status[stage], entries.get(stage), lookup))
        except CnnbenchError as err:
            if strict:
                raise
            results.append(Verdict(stage, why=str(err)))
    return results


def record(updates: dict[str, list[str]]) -> None:
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
        record({v.stage: v.files for v in good})
    for verdict in good:
        print(f"refresh: {'would record' if args.dry else 'recorded'} {verdict.stage} "
              f"(comments, docstrings, formatting only): {', '.join(verdict.files)}")
    left = [v for v in results if not v.harmless]
    for verdict in left:
        print(f"refresh: left {verdict.stage} stale: {verdict.why}")
    if left:
        print(f"refresh: {len(left)} stale stage{'s' * (len(left) > 1)} not recorded "
              f"({', '.join(v.stage for v in left)}): run `dvc repro`")
        raise SystemExit(1)
