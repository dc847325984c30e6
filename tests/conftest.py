"""Fixtures shared by the test modules; the plain helpers they use are in helpers.py.

``trained`` is module-scoped, as pytest scopes it for each module that asks: with
``--dist loadfile`` every module builds it once, in the worker that runs the module.
A module may override ``repo`` with a project of its own (test_pipeline.py does).

`make test` hands modules to its workers in collection order (``--no-loadscope-reorder``),
and ``pytest_collection_modifyitems`` puts the longest modules first, so that the short
ones fill in at the end instead of one long module running alone on one worker.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import run_lenet5_project

#: the modules that run the pipeline, longest first (their setup and tests together, on a
#: 2-core machine); the others follow in collection order
LONGEST_FIRST = ("test_pipeline.py", "test_repeats.py", "test_own_network.py",
                 "test_robustness.py", "test_sharing.py", "test_review.py",
                 "test_failed_runs.py", "test_refresh.py", "test_distributed.py",
                 "test_bench.py", "test_validation.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the modules longest first (a stable sort: tests keep their order within one)."""
    gone = [name for name in LONGEST_FIRST if not (Path(__file__).parent / name).exists()]
    if gone:
        raise pytest.UsageError(f"tests/conftest.py: LONGEST_FIRST names {gone}, which "
                                "tests/ does not have")

    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A project whose pipeline ran once and was committed (lenet5 alone, 1 epoch, 40 train
    and 20 test images)."""
    return run_lenet5_project(tmp_path_factory.mktemp("trained"), 4, 2, "tar", "trained")


@pytest.fixture
def repo(trained, tmp_path) -> Path:
    """A copy of ``trained`` for one test to change (file times kept)."""
    return Path(shutil.copytree(trained, tmp_path / "repo", symlinks=True))
