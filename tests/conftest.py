"""Fixtures shared by the test modules; the plain helpers they use are in helpers.py.

``trained`` is module-scoped, as pytest scopes it for each module that asks: with
``--dist loadfile`` every module builds it once, in the worker that runs the module.
A module may override ``repo`` with a project of its own (test_pipeline.py does).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import run_lenet5_project


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A project whose pipeline ran once and was committed (lenet5 alone, 1 epoch, 40 train
    and 20 test images)."""
    return run_lenet5_project(tmp_path_factory.mktemp("trained"), 4, 2, "tar", "trained")


@pytest.fixture
def repo(trained, tmp_path) -> Path:
    """A copy of ``trained`` for one test to change (file times kept)."""
    return Path(shutil.copytree(trained, tmp_path / "repo", symlinks=True))
