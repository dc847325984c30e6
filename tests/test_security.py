"""Outside input never runs code: each guard against a hostile file has a test here.

- An official-format archive whose pickles name anything but NumPy's array rebuilding is
  refused at fetch and at prepare, and its command never runs.
- params.yaml is read with YAML's safe loader; model files with Keras' safe mode.
- The review's ``--base`` cannot be taken for a command-line option.
- Archive members that are links or devices, too large, or images claiming huge
  dimensions are refused before they are read.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import subprocess
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from archives import CLASSES, make_image_folder, make_official_tarball
from helpers import assert_one_line_error, network_files, run_script, write_params
from cnnbench.data.readers import read_source
from cnnbench.errors import CnnbenchError, DataError


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
        result = run_script("prepare.py", "--raw", "raw", "--out", "d.npz", "--summary",
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


# ----------------------------------------------------------------------------- archive members

GIB = 1 << 30


def image_tar(tmp_path: Path) -> Path:
    return make_image_folder(tmp_path / "src", 1, 1, classes=("a", "b"), fmt="tar")


def member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    if kind == tarfile.LNKTYPE:
        info.linkname = "cifar10/train/a/0000.png"
    return info


TAR_MEMBERS = [
    ("hardlink", member("cifar10/train/a/0001.png", tarfile.LNKTYPE), "is a link"),
    ("char-device", member("cifar10/train/a/0001.png", tarfile.CHRTYPE),
     "is not a regular file or folder"),
    ("fifo", member("cifar10/train/a/0001.png", tarfile.FIFOTYPE),
     "is not a regular file or folder"),
    ("5-GiB", member("cifar10/train/a/0001.png", size=5 * GIB),
     "'cifar10/train/a/0001.png' declares 5368709120 bytes, more than the 64 MiB"),
]


@pytest.mark.parametrize("info, expected", [c[1:] for c in TAR_MEMBERS],
                         ids=[c[0] for c in TAR_MEMBERS])
def test_tar_members_that_are_not_small_regular_files_are_refused(tmp_path, info, expected):
    archive = image_tar(tmp_path)
    with tarfile.open(archive, "a") as tar:
        tar.addfile(info)  # a header only: the 5 GiB are never there to read
    with pytest.raises(DataError, match=re.escape(expected)):
        read_source(archive, decode=False)


def test_tar_whose_members_add_up_to_too_much_is_refused(tmp_path):
    """70 members of 63 MiB, as a sparse file: 4.3 GiB to tarfile, nothing on disk."""
    archive = tmp_path / "big.tar"
    with open(archive, "wb") as fh:
        for i in range(70):
            fh.write(member(f"train/a/{i:04d}.png", size=63 << 20).tobuf())
            fh.seek(63 << 20, os.SEEK_CUR)
        fh.write(bytes(2 * tarfile.BLOCKSIZE))
    with pytest.raises(DataError, match="big.tar: its files declare more than 4 GiB in all"):
        read_source(archive, decode=False)


def zip_declaring(path: Path, sizes: list[int], mode: int = 0) -> Path:
    """A zip of tiny members whose central directory declares ``sizes`` and Unix ``mode``."""
    with zipfile.ZipFile(path, "w") as zf:
        for i, size in enumerate(sizes):
            info = zipfile.ZipInfo(f"train/a/{i:04d}.png")
            info.external_attr = mode << 16
            zf.writestr(info, b"x")
            info.file_size = size  # what close() writes into the central directory
    return path


@pytest.mark.parametrize("sizes, mode, expected", [
    ([1], stat.S_IFLNK | 0o777, "'train/a/0000.png' is a link"),
    ([1], stat.S_IFCHR | 0o644, "'train/a/0000.png' is not a regular file or folder"),
    ([5 * GIB], 0, "'train/a/0000.png' declares 5368709120 bytes, more than the 64 MiB"),
    ([63 << 20] * 70, stat.S_IFREG | 0o644, "its files declare more than 4 GiB in all"),
], ids=["symlink", "char-device", "5-GiB", "4.3-GiB-in-all"])
def test_zip_members_that_are_not_small_regular_files_are_refused(tmp_path, sizes, mode,
                                                                   expected):
    archive = zip_declaring(tmp_path / "bad.zip", sizes, mode)
    with pytest.raises(DataError, match=re.escape(expected)):
        read_source(archive, decode=False)


def test_a_fifo_is_refused_not_read_forever(tmp_path):
    source = make_image_folder(tmp_path / "src", 1, 1, classes=("a", "b"))
    os.mkfifo(source / "cifar10" / "train" / "a" / "0001.png")
    os.mkfifo(tmp_path / "pipe.tar")
    for data_source, expected in ((source, "'cifar10/train/a/0001.png' is not a regular file"),
                                  (tmp_path / "pipe.tar", "is not a regular file or folder")):
        write_params(tmp_path / "params.yaml", data__source=str(data_source))
        result = run_script("fetch.py", "--out", "raw", cwd=tmp_path, timeout=60)
        assert_one_line_error(result, expected)
        assert not (tmp_path / "raw").exists()


def png_claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims ``width`` x ``height`` pixels."""
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)  # IHDR's width and height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@pytest.mark.parametrize("side", [10_000, 100_000])  # Pillow's warning, then its error
def test_a_decompression_bomb_is_a_clean_error(tmp_path, side):
    source = make_image_folder(tmp_path / "src", 1, 1, classes=("a", "b"))
    (source / "cifar10" / "test" / "b" / "0000.png").write_bytes(png_claiming(side, side))
    write_params(tmp_path / "params.yaml", data__source=str(source), data__resize=True)
    result = run_script("fetch.py", "--out", "raw", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result = run_script("prepare.py", "--raw", "raw", "--out", "d.npz", "--summary", "d.json",
                        cwd=tmp_path)
    assert_one_line_error(result, f"test/b/0000.png: refusing to decode it (Image size "
                                  f"({side * side} pixels) exceeds limit")


# ----------------------------------------------------------------------------- model files


def test_a_model_file_with_code_in_it_is_refused_by_evaluate(tmp_path):
    import keras

    from cnnbench.data.prepare import prepare

    marker = tmp_path / "MARKER"
    (tmp_path / "raw").mkdir()
    make_image_folder(tmp_path / "raw", 1, 1, classes=("a", "b"), fmt="tar")
    prepare(tmp_path / "raw", tmp_path / "d.npz", tmp_path / "d.json")
    (tmp_path / "log.json").write_text('{"train": {"loss": 1.0, "accuracy": 0.5}}')
    write_params(tmp_path / "params.yaml")
    network_files(tmp_path, "lenet5")  # evaluate imports the entry's network first
    inputs = keras.Input((32, 32, 3))
    # a Lambda layer's function is saved as bytecode and would run when the model is rebuilt
    hidden = keras.layers.Lambda(eval(f"lambda t: (__import__('os').system('touch {marker}'), "
                                      "t)[1]"))(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(hidden))
    keras.Model(inputs, outputs).save(tmp_path / "evil.keras")
    marker.unlink()  # building the model above ran the function once
    result = run_script("evaluate.py", "lenet5", "--model", "evil.keras", "--data", "d.npz",
                        "--train-log", "log.json", "--metrics", "m.json", "--plots-dir", "plots",
                        cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr  # TensorFlow may log before the error line
    assert result.stderr.strip().splitlines()[-1] == (
        "evaluate.py: error: evil.keras: cannot load the model (Requested the deserialization "
        "of a `Lambda` layer whose `function` is a Python lambda)")
    assert not marker.exists(), "the model file's code ran"
    assert not (tmp_path / "m.json").exists()


# ----------------------------------------------------------------------------- params and git


def test_a_python_tag_in_params_yaml_is_refused_not_run(tmp_path):
    marker = tmp_path / "MARKER"
    (tmp_path / "params.yaml").write_text(
        f'data:\n  source: !!python/object/apply:os.system ["touch {marker}"]\n')
    result = run_script("fetch.py", "--out", "raw", cwd=tmp_path)
    assert_one_line_error(result, "params.yaml: not valid YAML (line 2): could not determine a "
                                  "constructor for the tag 'tag:yaml.org,2002:python/object/"
                                  "apply:os.system'")
    assert not marker.exists(), "params.yaml's command ran"


@pytest.mark.parametrize("base", ["--output=/tmp/owned", "-h", ""])
def test_a_review_base_that_looks_like_an_option_never_reaches_git_or_dvc(monkeypatch, tmp_path,
                                                                          base):
    from cnnbench.review import review

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: calls.append(args))
    with pytest.raises(CnnbenchError, match=re.escape(f"--base {base!r} looks like a "
                                                      "command-line option")):
        review.main([f"--base={base}", "--out", str(tmp_path / "out"), "--summary",
                     str(tmp_path / "summary.md"), "--figures", str(tmp_path / "figures")])
    assert calls == [] and not (tmp_path / "out").exists()
