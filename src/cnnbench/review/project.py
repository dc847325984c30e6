"""The project as DVC and git hold it, read in-process: the review wing's one way to each.

Git through DVC's git layer (``scmrepo``): ``resolve`` a revision or experiment, ``read`` a
file at a commit or in the working tree (``rev`` None), list ``files``, every ``versions``
of a file. DVC through ``dvc.repo.Repo``: ``status`` and ``stale_stages``,
``downstream``, ``params_diff``, ``metrics_diff``, ``plots_diff``, ``experiments``. A DVC
failure is a one-line error naming the command.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from tabulate import tabulate

from cnnbench.errors import CnnbenchError

#: What ``dvc status`` says of a file that is not in the workspace or cache: not a change.
ABSENT = ("deleted", "not in cache")


@contextmanager
def dvc(what: str):
    """The project's ``dvc.repo.Repo``, its progress lines silenced ("Updating lock
    file"); a DVC error in the block is a one-line error."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo
    from scmrepo.exceptions import SCMError

    log = logging.getLogger("dvc")
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        with Repo() as repo:
            yield repo
    except (DvcException, SCMError) as err:
        raise CnnbenchError(f"dvc {what} failed: {err}") from None
    finally:
        log.setLevel(level)


def _scm():
    """Git of the current directory's repository, and the current directory's path in it."""
    from scmrepo.exceptions import SCMError
    from scmrepo.git import Git

    try:
        git = Git(os.getcwd())
    except SCMError:
        raise CnnbenchError("not inside a git work tree") from None
    prefix = os.path.relpath(os.getcwd(), git.root_dir)
    return git, "" if prefix == "." else prefix


def resolve(rev: str, what: str = "--base") -> str:
    """The commit of a git revision, or of a DVC experiment's name; a one-line error naming
    ``what`` if neither. A value that looks like an option (``--output=...``) is refused
    here, so it never reaches git or DVC as one."""
    from scmrepo.exceptions import RevError

    if not rev or rev.startswith("-"):
        raise CnnbenchError(f"{what} {rev!r} looks like a command-line option, not a git "
                            "revision")
    try:
        return _scm()[0].resolve_rev(rev)
    except RevError:
        pass
    with dvc("exp list") as repo:
        found = {name: sha for exps in repo.experiments.ls().values() for name, sha in exps}
    if rev not in found:
        raise CnnbenchError(f"{what} {rev!r} is not a commit of this git repository")
    return found[rev]


def read(rev: str | None, path: str) -> bytes | None:
    """``path`` (relative to the current directory) at ``rev``, a commit from ``resolve``,
    or in the working tree (None); None where it is not a file."""
    if rev is None:
        try:
            return Path(path).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
    git, prefix = _scm()
    try:
        return git.get_fs(rev).read_bytes(str(PurePosixPath(prefix, path)))
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def files(rev: str | None, folder: str) -> list[str]:
    """Every file under ``folder`` at ``rev`` (working tree: None), relative to the
    current directory, sorted."""
    if rev is None:
        root = Path(folder)
        return sorted(str(PurePosixPath(p)) for p in root.rglob("*") if p.is_file()) \
            if root.is_dir() else []
    git, prefix = _scm()
    fs, full = git.get_fs(rev), str(PurePosixPath(prefix, folder))
    if not fs.isdir(full):
        return []
    return sorted(os.path.relpath(p, prefix or ".") for p in fs.find(full))


def versions(path: str) -> Iterator[bytes]:
    """Each distinct version of ``path`` that git holds: the index's, then those of the
    commits of every branch, tag and experiment, newest first."""
    import pygit2

    git, prefix = _scm()
    repo, full = git.pygit2.repo, str(PurePosixPath(prefix, path))
    walker = repo.walk(repo.head.target, pygit2.GIT_SORT_TIME)
    for name in repo.references:
        try:
            walker.push(repo.references[name].peel(pygit2.Commit).id)
        except (pygit2.GitError, ValueError, TypeError):  # a ref to no commit
            continue
    found = [repo.index[full].id] if full in repo.index else []
    for commit in walker:
        try:
            found.append((commit.tree / full).id)
        except KeyError:
            continue
    yield from (repo[oid].data for oid in dict.fromkeys(found))


def shallow() -> bool:
    """Whether this clone's git history is cut short (``git clone --depth``)."""
    return _scm()[0].pygit2.repo.is_shallow


def status() -> dict:
    """``dvc status --json`` of the project."""
    with dvc("status") as repo:
        return repo.status()


def _reasons(entries: list) -> list[str]:
    """The changes in one stage's ``dvc status`` entries, absent files left out."""
    reasons = []
    for entry in entries:
        if isinstance(entry, str):  # "changed command", "always changed"
            reasons.append(entry)
            continue
        for kind, changes in entry.items():
            for path, state in changes.items():
                if isinstance(state, dict):  # params: {key: modified/new/deleted}
                    reasons += [f"param {key} {how}" for key, how in state.items()]
                elif state not in ABSENT:
                    reasons.append(f"{kind.removeprefix('changed ')[:-1]} {path} {state}")
    return reasons


def stale_stages(found: dict) -> dict[str, list[str]]:
    """``{stage: [reason, ...]}`` for the stages of a ``status()`` that changed."""
    stale = {stage: _reasons(entries) for stage, entries in found.items()}
    return {stage: reasons for stage, reasons in stale.items() if reasons}


def downstream(stages: list[str]) -> list[str]:
    """The stages that depend, directly or not, on ``stages`` (pipeline order)."""
    import networkx as nx

    with dvc("dag") as repo:
        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        names = {stage.addressing: stage for stage in graph}
        order = [s.addressing for s in reversed(list(nx.topological_sort(graph)))]
        after = set()
        for name in stages:
            if name in names:
                after |= {s.addressing for s in nx.ancestors(graph, names[name])}
    return [s for s in order if s in after and s not in stages]


def params_diff(base: str) -> dict:
    """``dvc params diff <base> --json``: ``{file: {key: {"old", "new"}}}``."""
    with dvc("params diff") as repo:
        return repo.params.diff(a_rev=base).get("diff", {})


def metrics_diff(base: str) -> str:
    """``dvc metrics diff <base> --md`` as Markdown; '' when no metric changed."""
    from dvc.compare import diff_table

    with dvc("metrics diff") as repo:
        diff = repo.metrics.diff(a_rev=base).get("diff", {})
    table = diff_table(diff, title="Metric", precision=5, round_digits=True, a_rev=base)
    rows = [list(row) for row in table]
    return tabulate(rows, headers=list(table.keys()), tablefmt="github",
                    disable_numparse=True) if rows else ""


def plots_diff(base: str, out: Path, template: Path) -> None:
    """``dvc plots diff <base> --out <out> --html-template <template>``."""
    from dvc.render.match import match_defs_renderers
    from dvc_render import render_html

    with dvc("plots diff") as repo:
        found = match_defs_renderers(data=repo.plots.diff(revs=[base]),
                                     out=str(out / "static"),
                                     templates_dir=repo.plots.templates_dir)
        render_html(renderers=[r.renderer for r in found], output_file=out / "index.html",
                    html_template=str(template))


def experiments() -> list[dict]:
    """``dvc exp show --json``."""
    with dvc("exp show") as repo:
        shown = [exp.dumpd() for exp in repo.experiments.show()]
    return json.loads(json.dumps(shown, default=str))
