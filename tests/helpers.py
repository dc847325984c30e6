"""Helpers shared by the tests: params files with some keys changed, and temporary
git + DVC copies of the project in which the tests run `dvc` as a user would."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
#: The seed report's numbers per model (reference/seed_report.yaml).
SEED_REFERENCE = yaml.safe_load((ROOT / "reference" / "seed_report.yaml").read_text())["models"]
# What a fresh clone of the project holds that `dvc repro` needs.
PROJECT_FILES = ["dvc.yaml", "params.yaml", "stages", "src", "reference", ".dvcignore",
                 ".dvc/config", ".dvc/.gitignore", ".dvc/plots", ".gitignore"]


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


def set_params(repo: Path, **changes) -> None:
    """Change keys of ``repo``'s params.yaml in place (keys as in ``changed_params``)."""
    path = repo / "params.yaml"
    write_params(path, yaml.safe_load(path.read_text()), **changes)


def environment(**extra: str) -> dict[str, str]:
    """This interpreter's scripts (dvc, python) first on PATH, a git identity, and ``extra``."""
    return {**os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com", **extra}


def run(cmd: list[str], cwd: Path, check: bool = True, env: dict[str, str] | None = None,
        timeout: float = 900) -> subprocess.CompletedProcess:
    """Run ``cmd`` in ``cwd`` with ``environment(**env)``; with ``check``, a non-zero exit
    fails the test with the command's output."""
    result = subprocess.run(cmd, cwd=cwd, env=environment(**(env or {})), capture_output=True,
                            text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def ran_stages(output: str) -> set[str]:
    """The stages that a `dvc repro` or `dvc exp run` output says it ran."""
    return set(re.findall(r"Running stage '([^']+)'", output))


#: The corrupted subset of the tests' projects: their test splits hold 20 images or more.
TEST_CORRUPTED = 10


def make_project(repo: Path, **params) -> Path:
    """Copy the project's pipeline into ``repo`` as a fresh clone would have it, change
    ``params`` (keys as in ``changed_params``; ``robustness.images`` is
    ``TEST_CORRUPTED`` unless given), and commit it to a new git repository."""
    params = {"robustness__images": TEST_CORRUPTED, **params}
    for name in PROJECT_FILES:
        src, dst = ROOT / name, repo / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dst)
    set_params(repo, **params)
    run(["git", "init", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "project"], repo)
    return repo


def run_lenet5_project(base: Path, train_per_class: int, test_per_class: int, fmt: str,
                       message: str) -> Path:
    """A project under ``base`` with lenet5 alone (1 epoch) on a tiny generated archive,
    its pipeline run once and committed with ``message``."""
    from archives import make_image_folder

    archive = make_image_folder(base / "data", train_per_class=train_per_class,
                                test_per_class=test_per_class, fmt=fmt)
    repo = make_project(base / "repo", data__source=str(archive), train__epochs=1,
                        evaluate__batch_size=32, models={"lenet5": net("lenet5")})
    run(["dvc", "repro"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", message], repo)
    return repo


def net(name: str, **overrides) -> dict:
    """An entry of ``models`` for the package's network ``name``, with train overrides."""
    return {"architecture": f"src/cnnbench/models/{name}.py", **overrides}


def network_files(folder: Path, *names: str) -> Path:
    """Copy the package's networks ``names`` into ``folder`` at their project paths, so that
    a stage run from ``folder`` finds each entry's ``architecture``; returns ``folder``."""
    for name in names:
        target = folder / "src" / "cnnbench" / "models" / f"{name}.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / "src" / "cnnbench" / "models" / f"{name}.py", target)
    return folder
