"""Outside input never runs code: each guard against a hostile file has a test here.

- An official-format archive whose pickles name anything but NumPy's array rebuilding is
  refused at fetch and at prepare, and its command never runs.
- params.yaml is read with YAML's safe loader; model files with Keras' safe mode.
- The review's ``--base`` cannot be taken for a command-line option.
- Archive members that are links or devices, too large, or images claiming huge
  dimensions are refused before they are read.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from archives import CLASSES, make_official_tarball
from helpers import write_params
from cnnbench.data import read_source
from cnnbench.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
STAGES = ROOT / "stages"


def run_script(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(STAGES / script), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def assert_one_line_error(result: subprocess.CompletedProcess, expected: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0], result.stderr
    assert expected in lines[0], lines[0]


class Command:
    """Unpickles as a call of ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class Call:
    """Unpickles as ``function(*args)``: whatever pickle's REDUCE opcode can be made to do."""

    def __init__(self, function, *args) -> None:
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


# ----------------------------------------------------------------------------- official format


@pytest.mark.parametrize("stage", ["fetch", "prepare"])
def test_a_crafted_official_archive_runs_no_command(tmp_path, stage):
    marker = tmp_path / "MARKER"
    archive = tmp_path / "cifar10-mirror.tar.gz"  # not the official name: no md5 applies
    make_official_tarball(archive, per_batch=2, meta=Command(f"touch {marker}"))
    write_params(tmp_path / "params.yaml", data__source=str(archive))
    if stage == "fetch":
        result = run_script("fetch.py", "--out", "data/raw", cwd=tmp_path)
    else:  # fetched by an older cnnbench, say: prepare must refuse it on its own
        (tmp_path / "raw").mkdir()
        os.replace(archive, tmp_path / "raw" / archive.name)
        result = run_script("prepare.py", "--raw", "raw", "--out", "d.npz", "--metrics",
                            "d.json", cwd=tmp_path)
    assert_one_line_error(result, "cifar10-mirror.tar.gz: cifar-10-batches-py/batches.meta "
                                  "tries to load posix.system; refusing")
    assert not marker.exists(), "the archive's command ran"
    assert not (tmp_path / "data" / "raw").exists() and not (tmp_path / "d.npz").exists()


@pytest.mark.parametrize("python2", [True, False], ids=["python2-pickles", "python3-pickles"])
def test_official_batches_as_cifar10_pickles_them_are_read(tmp_path, python2):
    x, y = make_official_tarball(tmp_path / "mirror.tar.gz", per_batch=3, python2=python2)
    assert read_source(tmp_path / "mirror.tar.gz", decode=False) is None
    dataset = read_source(tmp_path / "mirror.tar.gz")
    assert np.array_equal(dataset.train.x, x) and np.array_equal(dataset.train.y, y)
    assert dataset.class_names == CLASSES


def official_with(tmp_path: Path, meta: object) -> Path:
    make_official_tarball(tmp_path / "bad.tar.gz", per_batch=2, meta=meta)
    return tmp_path / "bad.tar.gz"


HOSTILE_META = [
    ("eval", Call(eval, "1 + 1"), "tries to load builtins.eval; refusing"),
    ("numpy-load", Call(np.load, "x.npy", None, True), "tries to load numpy.load; refusing"),
    ("ndarray-called", Call(np.ndarray, (1 << 40,)), "cannot be read (TypeError"),
    ("reconstruct-huge", Call(np._core.multiarray._reconstruct, np.ndarray, (1 << 40,), b"b"),
     "unexpected array construction; refusing"),
    ("object-array", {b"label_names": np.array([b"cat"], dtype=object)},
     "holds a NumPy array of object, not uint8"),
    ("set", {b"label_names": {b"cat"}}, "holds a set, not plain data"),
    ("float", {b"label_names": [b"cat"], b"x": 1.5}, "holds a float, not plain data"),
    ("no-names", {b"names": [b"cat"]}, "no b'label_names' list of class names"),
    ("not-utf8", {b"label_names": [b"\xff"]}, "a class name is not UTF-8 text"),
    ("self-referencing", [], "no b'label_names' list"),
]
HOSTILE_META[-1][1].append(HOSTILE_META[-1][1])  # a list that contains itself


@pytest.mark.parametrize("meta, expected", [c[1:] for c in HOSTILE_META],
                         ids=[c[0] for c in HOSTILE_META])
def test_official_reader_builds_nothing_but_plain_data(tmp_path, meta, expected):
    archive = official_with(tmp_path, meta)
    with pytest.raises(DataError, match=r"^bad\.tar\.gz: cifar-10-batches-py/batches\.meta") \
            as err:
        read_source(archive, decode=False)
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_official_labels_must_name_a_class(tmp_path):
    make_official_tarball(tmp_path / "bad.tar.gz", per_batch=2,
                          meta={b"label_names": [b"cat", b"dog"]})  # labels go up to 9
    with pytest.raises(DataError, match="data_batch_1: a label is not a class id from 0 to 1"):
        read_source(tmp_path / "bad.tar.gz", decode=False)
