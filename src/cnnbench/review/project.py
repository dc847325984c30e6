"""The project as git and DVC hold it, read in-process (``scmrepo``, ``dvc.repo.Repo``):
the review wing's one way to each, and the pipeline's paths from ``dvc.yaml``'s ``vars``.
A DVC failure is a one-line error naming the command.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import yaml

from cnnbench.errors import CnnbenchError

#: What ``dvc status`` says of a file that is not in the workspace or cache: not a change.
ABSENT = ("deleted", "not in cache")
#: The vars of ``dvc.yaml`` the commands read results from, and what each names.
NEEDED = {"metrics": "folder of <model>.json metrics", "logs": "folder of training logs",
          "data_summary": "the prepare stage's data summary",
          "reference": "the seed report's numbers", "repeats": "folder of seed repeats",
          "figures": "folder of figures", "summary": "the Markdown summary",
          "review": "folder the review is written to, replaced as a whole"}


def pipeline_paths(dvc_yaml: str | os.PathLike = "dvc.yaml") -> dict[str, str]:
    """The paths in ``dvc_yaml``'s ``vars``, each checked to be there."""
    try:
        text = Path(dvc_yaml).read_text()
    except OSError as err:
        raise CnnbenchError(f"{dvc_yaml}: cannot read the pipeline ({err.strerror}); run "
                            "from the project root") from None
    merged: dict = {}
    for entry in (yaml.safe_load(text) or {}).get("vars") or []:
        merged.update(entry if isinstance(entry, dict) else {})
    if missing := [key for key in NEEDED if not isinstance(merged.get(key), str)]:
        raise CnnbenchError(f"{dvc_yaml}: vars lacks {', '.join(missing)} "
                            f"({'; '.join(NEEDED[k] for k in missing)})")
    return {key: merged[key] for key in NEEDED}


@contextmanager
def dvc(what: str):
    """The project's ``dvc.repo.Repo``, its progress lines silenced; errors in one line."""
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
    """The commit of a git revision or DVC experiment; an option-like ``rev`` is refused."""
    from scmrepo.exceptions import RevError

    if not rev or rev.startswith("-"):
        raise CnnbenchError(f"{what} {rev!r} looks like a command-line option, not a git "
                            "revision")
    try:
        return _scm()[0].resolve_rev(rev)
    except RevError:
        if (found := experiment_revs().get(rev)) is None:
            raise CnnbenchError(f"{what} {rev!r} is not a commit of this git repository") from None
        return found


def experiment_revs() -> dict[str, str]:
    """``{name: commit}`` of the experiments derived from HEAD (``dvc exp list``)."""
    with dvc("exp list") as repo:
        return {name: sha for exps in repo.experiments.ls().values() for name, sha in exps}


def _tree(rev: str | None):
    """The filesystem of commit ``rev`` (None: the working tree), and where we are in it."""
    if rev is None:
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem(), os.getcwd()
    git, prefix = _scm()
    return git.get_fs(rev), prefix


def read(rev: str | None, path: str) -> bytes | None:
    """``path`` at commit ``rev`` (None: the working tree); None where it is not a file."""
    fs, here = _tree(rev)
    try:
        return fs.read_bytes(str(PurePosixPath(here, path)))
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def model_names(rev: str | None, params: str | os.PathLike = "params.yaml") -> list[str]:
    """The models of ``params`` at commit ``rev`` (None: the working tree)."""
    return list((yaml.safe_load(read(rev, str(params)) or "{}") or {}).get("models") or {})


def files(rev: str | None, folder: str) -> list[str]:
    """Every file under ``folder`` at ``rev`` (None: the working tree), sorted."""
    fs, here = _tree(rev)
    full = str(PurePosixPath(here, folder))
    return sorted(os.path.relpath(p, here or ".") for p in fs.find(full)) if fs.isdir(full) else []


def versions(path: str) -> Iterator[bytes]:
    """Each version of ``path`` in git: the index's, then every ref's commits, newest first."""
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


def changes(entries: list) -> Iterator[tuple[str, str, str]]:
    """``(kind, path, state)`` of each change in one stage's ``dvc status`` entries; kind is
    ``dep``, ``out``, ``param`` (path: its key) or '' for a whole-stage line (``state``)."""
    for entry in entries:
        if isinstance(entry, str):  # "changed command", "always changed"
            yield "", "", entry
            continue
        for kind, found in entry.items():
            for path, state in found.items():
                if isinstance(state, dict):  # params: {key: modified/new/deleted}
                    yield from (("param", key, how) for key, how in state.items())
                else:
                    yield kind.removeprefix("changed ")[:-1], path, state


def reason(kind: str, path: str, state: str) -> str:
    """One change of ``changes`` in words."""
    return " ".join(part for part in (kind, path, state) if part)


def stale_stages(found: dict) -> dict[str, list[str]]:
    """``{stage: [reason, ...]}`` of the changed stages of a ``status()``; absent files
    are no change."""
    stale = {stage: [reason(*c) for c in changes(entries) if c[0] == "param" or c[2] not in ABSENT]
             for stage, entries in found.items()}
    return {stage: reasons for stage, reasons in stale.items() if reasons}


def downstream(stages: list[str]) -> list[str]:
    """The stages that depend, directly or not, on ``stages`` (pipeline order)."""
    import networkx as nx

    with dvc("dag") as repo:
        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        order = [s.addressing for s in reversed(list(nx.topological_sort(graph)))]
        after = {a.addressing for s in graph if s.addressing in stages
                 for a in nx.ancestors(graph, s)}
    return [s for s in order if s in after and s not in stages]

