"""Tests for ``cnnbench.data``: fetch, read, subset, summarise, prepare and load.

Every data set is made on the fly by ``archives.py`` and every download is served by a
server the test starts on 127.0.0.1, so nothing here touches the internet.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import shutil
import socket
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))

from archives import CLASSES, class_images, make_image_folder, make_official_tarball  # noqa: E402
from helpers import closed_port, serve_folder, tree  # noqa: E402

from cnnbench.data.dataset import load_prepared  # noqa: E402
from cnnbench.errors import DataError  # noqa: E402
from cnnbench.data.fetch import fetch  # noqa: E402
from cnnbench.data.prepare import fetched_source, prepare, stratified_indices  # noqa: E402
from cnnbench.data.readers import OFFICIAL_NAME, images_digest, read_source  # noqa: E402

# Given out of order on purpose: class ids must follow the sorted names.
UNSORTED = ("truck", "cat", "airplane")
TRAIN_PER_CLASS, TEST_PER_CLASS = 3, 2
TRAIN_SEED, TEST_SEED = 1, 2  # the seeds make_image_folder uses for each split


# --------------------------------------------------------------------------- helpers


def expected_split(classes: tuple[str, ...], per_class: int, seed: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels ``make_image_folder`` wrote for one split, in read order."""
    xs, ys = [], []
    for class_id, name in enumerate(sorted(classes)):
        xs.append(class_images(per_class, classes.index(name), seed))
        ys.extend([class_id] * per_class)
    return np.concatenate(xs), np.asarray(ys, dtype=np.int32)


def pack(folder: Path, archive: Path, reverse: bool = False) -> Path:
    """Pack the contents of ``folder`` into a .tar, .tar.gz or .zip named ``archive``.

    Members go in sorted path order, or reverse sorted order with ``reverse``.
    """
    paths = sorted(folder.rglob("*"), reverse=reverse)
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for path in paths:
                zf.write(path, path.relative_to(folder).as_posix())
    else:
        with tarfile.open(archive, "w:gz" if archive.name.endswith(".gz") else "w") as tar:
            for path in paths:
                tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    return archive


def raw_server(reply: bytes) -> int:
    """Answer one connection on loopback with ``reply`` verbatim, then close; return the port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    sock.settimeout(10)

    def serve() -> None:
        with sock:
            conn, _ = sock.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    return sock.getsockname()[1]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    """A small image-folder directory ``train/<class>/*.png``, ``test/<class>/*.png``."""
    return make_image_folder(tmp_path / "src", TRAIN_PER_CLASS, TEST_PER_CLASS,
                             classes=UNSORTED, top=None)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> tuple[str, Path]:
    """A server on 127.0.0.1 serving a folder with one .tar.gz; (base URL, file)."""
    root = tmp_path_factory.mktemp("www")
    archive = make_image_folder(root / "make", 1, 1, classes=("a", "b"), fmt="tar.gz")
    served_file = archive.rename(root / "images.tar.gz")
    shutil.rmtree(root / "make")
    with serve_folder(root) as (base, _):
        yield base, served_file


@pytest.fixture
def wrong_official(tmp_path: Path) -> Path:
    """A valid official-layout tarball carrying the official name but not the official md5."""
    path = tmp_path / "bad" / OFFICIAL_NAME
    path.parent.mkdir()
    make_official_tarball(path, per_batch=2)
    return path


# --------------------------------------------------------------------------- read_source


@pytest.mark.parametrize("top", [None, "cifar10"])
@pytest.mark.parametrize("fmt", ["dir", "tar", "tar.gz", "zip"])
def test_read_image_folder(tmp_path: Path, fmt: str, top: str | None) -> None:
    source = make_image_folder(tmp_path, TRAIN_PER_CLASS, TEST_PER_CLASS, classes=UNSORTED,
                               fmt=fmt, top=top)
    data = read_source(source)

    assert data.class_names == ("airplane", "cat", "truck")
    for split, per_class, seed in (("train", TRAIN_PER_CLASS, TRAIN_SEED),
                                   ("test", TEST_PER_CLASS, TEST_SEED)):
        got = data.split(split)
        x, y = expected_split(UNSORTED, per_class, seed)
        assert got.x.shape == (len(UNSORTED) * per_class, 32, 32, 3)
        assert got.x.dtype == np.uint8
        assert got.y.dtype == np.int32
        np.testing.assert_array_equal(got.x, x)
        np.testing.assert_array_equal(got.y, y)


@pytest.mark.parametrize("name", ["reversed.tar", "reversed.zip"])
def test_read_order_does_not_depend_on_member_order(image_dir: Path, tmp_path: Path,
                                                    name: str) -> None:
    data = read_source(pack(image_dir, tmp_path / name, reverse=True))
    assert data.class_names == ("airplane", "cat", "truck")
    x, y = expected_split(UNSORTED, TRAIN_PER_CLASS, TRAIN_SEED)
    np.testing.assert_array_equal(data.train.x, x)
    np.testing.assert_array_equal(data.train.y, y)


def test_read_image_folder_skips_hidden_files_and_folders(image_dir: Path) -> None:
    (image_dir / "train" / "cat" / ".hidden.png").write_bytes(b"junk")
    (image_dir / "train" / "cat" / ".DS_Store").write_bytes(b"junk")
    (image_dir / "__MACOSX" / "train" / "cat").mkdir(parents=True)
    (image_dir / "__MACOSX" / "train" / "cat" / "0000.png").write_bytes(b"junk")
    (image_dir / "README.txt").write_text("about this data")
    data = read_source(image_dir)
    assert len(data.train.y) == len(UNSORTED) * TRAIN_PER_CLASS


def test_read_image_folder_rejects_a_non_image_file_in_a_class(image_dir: Path) -> None:
    (image_dir / "train" / "cat" / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match=r"train/cat/notes\.txt: not an image file"):
        read_source(image_dir)


def test_read_official_tarball(tmp_path: Path) -> None:
    path = tmp_path / "official.tar.gz"
    x, y = make_official_tarball(path, per_batch=4)
    data = read_source(path)

    assert data.class_names == CLASSES
    assert data.train.x.dtype == np.uint8 and data.train.y.dtype == np.int32
    np.testing.assert_array_equal(data.train.x, x)  # NHWC, as written
    np.testing.assert_array_equal(data.train.y, y)
    assert data.test.x.shape == (4, 32, 32, 3)
    assert data.test.y.shape == (4,)


# --------------------------------------------------------------------------- read errors


def test_missing_test_split(image_dir: Path, tmp_path: Path) -> None:
    shutil.rmtree(image_dir / "test")
    archive = pack(image_dir, tmp_path / "no-test.tar.gz")
    with pytest.raises(DataError, match=r"test/<class>.*found splits \['train'\]"):
        read_source(archive)


def test_class_in_train_only(image_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(image_dir / "train" / "cat", image_dir / "train" / "zebra")
    archive = pack(image_dir, tmp_path / "extra.zip")
    with pytest.raises(DataError, match=r"classes differ between train and test: zebra in one split only$"):
        read_source(archive)


def test_random_bytes_named_tar_gz(tmp_path: Path) -> None:
    path = tmp_path / "noise.tar.gz"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(DataError, match=r"noise\.tar\.gz"):
        read_source(path)


@pytest.mark.parametrize("fmt, message", [("tar.gz", "corrupt or truncated archive"),
                                           ("zip", "corrupt or truncated .zip archive")])
def test_truncated_archive(tmp_path: Path, fmt: str, message: str) -> None:
    whole = make_image_folder(tmp_path / "src", TRAIN_PER_CLASS, TEST_PER_CLASS, fmt=fmt)
    cut = tmp_path / f"cut.{fmt}"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=rf"cut\.{fmt}: {re.escape(message)}"):
        read_source(cut)


def last_file_member(path: Path) -> tarfile.TarInfo:
    with tarfile.open(path) as tar:
        return [m for m in tar.getmembers() if m.isfile()][-1]


def test_tar_cut_inside_file_data(tmp_path: Path) -> None:
    whole = make_image_folder(tmp_path / "src", TRAIN_PER_CLASS, TEST_PER_CLASS, fmt="tar")
    cut = tmp_path / "cut.tar"
    cut.write_bytes(whole.read_bytes()[: last_file_member(whole).offset_data + 100])
    with pytest.raises(DataError, match=r"cut\.tar: corrupt or truncated archive"):
        read_source(cut)


def test_tar_cut_at_member_header(tmp_path: Path) -> None:
    whole = make_image_folder(tmp_path / "src", TRAIN_PER_CLASS, TEST_PER_CLASS, fmt="tar")
    cut = tmp_path / "cut.tar"
    cut.write_bytes(whole.read_bytes()[: last_file_member(whole).offset])
    with pytest.raises(DataError, match=r"cut\.tar"):
        read_source(cut)  # today: a data set one train image short


@pytest.mark.parametrize("name, make, message", [
    ("small.png", lambda p: Image.new("RGB", (16, 8)).save(p), r"found 16x8"),
    ("gray.png", lambda p: Image.new("L", (32, 32)).save(p), r"RGB image, found mode L"),
    ("fake.png", lambda p: p.write_bytes(b"this is not a PNG"), r"not a readable image"),
])
@pytest.mark.parametrize("fmt", ["dir", "zip"])
def test_bad_image(image_dir: Path, tmp_path: Path, fmt: str, name: str, make, message: str
                   ) -> None:
    make(image_dir / "train" / "cat" / name)
    source = image_dir if fmt == "dir" else pack(image_dir, tmp_path / "bad.zip")
    with pytest.raises(DataError, match=rf"train/cat/{name}: .*{message}"):
        read_source(source)


def test_not_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"data\.csv: not a directory"):
        read_source(path)


def test_corrupt_deflate_stream_in_tar_gz(image_dir: Path, tmp_path: Path) -> None:
    # the tar up to the first file's data in one gzip member, then a member whose deflate
    # data is invalid (0xff starts a block of reserved type 3): the archive opens, and
    # reading on into the file's data hits the bad block
    plain = pack(image_dir, tmp_path / "plain.tar")
    with tarfile.open(plain) as tar:
        cut = next(m for m in tar.getmembers() if m.isfile()).offset_data
    header = gzip.compress(b"", mtime=0)[:10]
    path = tmp_path / "corrupt.tar.gz"
    path.write_bytes(gzip.compress(plain.read_bytes()[:cut], mtime=0) + header + b"\xff" * 64)
    with pytest.raises(DataError, match="corrupt"):
        read_source(path)


# --------------------------------------------------------------------------- images_digest


def test_images_digest_ignores_the_packing(image_dir: Path, tmp_path: Path) -> None:
    """Folder, tar, reversed tar.gz, zip, and a top folder with a README beside the splits
    (as in GitHub's archive of a repository): the same images, the same digest."""
    wrapped = tmp_path / "wrapped"
    shutil.copytree(image_dir, wrapped / "repo-0123abc")
    (wrapped / "repo-0123abc" / "README.md").write_text("# images\n")
    digests = {images_digest(image_dir),
               images_digest(pack(image_dir, tmp_path / "a.tar")),
               images_digest(pack(image_dir, tmp_path / "b.tar.gz", reverse=True)),
               images_digest(pack(image_dir, tmp_path / "c.zip")),
               images_digest(pack(wrapped, tmp_path / "d.tar.gz"))}
    assert len(digests) == 1


@pytest.mark.parametrize("change", ["bytes", "rename", "extra", "remove"])
def test_images_digest_follows_the_images(image_dir: Path, change: str) -> None:
    before = images_digest(image_dir)
    one = image_dir / "train" / "cat" / "0000.png"
    if change == "bytes":
        one.write_bytes(one.read_bytes() + b"\0")
    elif change == "rename":
        one.rename(one.with_name("0009.png"))
    elif change == "extra":
        shutil.copyfile(one, one.with_name("0009.png"))
    else:
        one.unlink()
    assert images_digest(image_dir) != before


def test_images_digest_refuses_what_read_source_refuses(tmp_path: Path,
                                                        wrong_official: Path) -> None:
    with pytest.raises(DataError, match="official CIFAR-10 tarball, not image-folder data"):
        images_digest(wrong_official)
    path = tmp_path / "noise.tar.gz"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(DataError, match=r"noise\.tar\.gz"):
        images_digest(path)


# --------------------------------------------------------------------------- fetch


def test_fetch_local_file(tmp_path: Path) -> None:
    source = make_image_folder(tmp_path / "src", 1, 1, classes=("a", "b"), fmt="zip")
    out = tmp_path / "raw"
    got = fetch(str(source), out)
    assert got == out / source.name == fetched_source(out)
    assert got.read_bytes() == source.read_bytes()


def test_fetch_reads_a_relative_source_from_the_project_root(tmp_path: Path) -> None:
    """As in a queued experiment: the stage runs in a clone, DVC_ROOT names the project."""
    source = make_image_folder(tmp_path / "shared", 1, 1, classes=("a", "b"), fmt="zip")
    project, clone = tmp_path / "project", tmp_path / "project" / ".dvc" / "tmp" / "clone"
    clone.mkdir(parents=True)
    relative = os.path.relpath(source, project)
    got = fetch(relative, clone / "raw", relative_to=project)
    assert got.read_bytes() == source.read_bytes()
    with pytest.raises(DataError, match=f"relative paths are read from {clone}"):
        fetch(relative, clone / "raw2", relative_to=clone)


def test_fetch_local_directory_replaces_earlier_fetch(image_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "raw"
    out.mkdir()
    (out / "old.tar.gz").write_bytes(b"from an earlier fetch")
    got = fetch(str(image_dir), out)
    assert got == out / image_dir.name == fetched_source(out)
    assert tree(got) == tree(image_dir)
    assert [p.name for p in out.iterdir()] == [image_dir.name]


def test_fetch_http(served, tmp_path: Path) -> None:
    base, served_file = served
    out = tmp_path / "raw"
    got = fetch(f"{base}/{served_file.name}", out)
    assert got == out / served_file.name == fetched_source(out)
    assert got.read_bytes() == served_file.read_bytes()


@pytest.fixture(params=["missing-path", "closed-port", "http-404", "wrong-md5"])
def failing_fetch(request, tmp_path: Path) -> tuple[str, list[str]]:
    """A source ``fetch`` must refuse, and strings its message must contain."""
    if request.param == "missing-path":
        missing = str(tmp_path / "nowhere" / "cifar.tar.gz")
        return missing, [missing, "no such file"]
    if request.param == "closed-port":
        return (f"http://127.0.0.1:{closed_port()}/x.tar.gz",
                ["data.source", "unreachable", "local copy"])
    if request.param == "http-404":
        base, _ = request.getfixturevalue("served")
        return f"{base}/absent.tar.gz", ["data.source", "HTTP 404", "local copy"]
    bad = request.getfixturevalue("wrong_official")
    return str(bad), ["md5", OFFICIAL_NAME]


def test_failed_fetch_leaves_no_out_dir(failing_fetch, tmp_path: Path) -> None:
    source, needles = failing_fetch
    parent = tmp_path / "data"
    parent.mkdir()
    with pytest.raises(DataError) as err:
        fetch(source, parent / "raw")
    message = str(err.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message
    assert list(parent.iterdir()) == []  # neither the folder nor a temporary one


def test_failed_fetch_keeps_earlier_out_dir(failing_fetch, tmp_path: Path) -> None:
    source, _ = failing_fetch
    earlier = make_image_folder(tmp_path / "src", 1, 1, classes=("a", "b"), fmt="zip")
    out = tmp_path / "data" / "raw"
    fetch(str(earlier), out)
    before = tree(out.parent)
    with pytest.raises(DataError):
        fetch(source, out)
    assert tree(out.parent) == before
    assert fetched_source(out).read_bytes() == earlier.read_bytes()


def test_fetched_source_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no fetched data"):
        fetched_source(tmp_path / "absent")
    with pytest.raises(DataError, match="found 0"):
        fetched_source(tmp_path)
    (tmp_path / "a.zip").touch()
    (tmp_path / "b.zip").touch()
    with pytest.raises(DataError, match="found 2"):
        fetched_source(tmp_path)


def test_fetch_url_with_bad_port(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data.source"):
        fetch("http://127.0.0.1:80a/x.tar.gz", tmp_path / "raw")


def test_fetch_from_non_http_server(tmp_path: Path) -> None:
    port = raw_server(b"SSH-2.0-OpenSSH_9.6\r\n")
    with pytest.raises(DataError, match="data.source"):
        fetch(f"http://127.0.0.1:{port}/x.tar.gz", tmp_path / "raw")


def test_fetch_truncated_download(tmp_path: Path) -> None:
    port = raw_server(b"HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\nonly 17 bytes...")
    with pytest.raises(DataError, match="data.source"):
        fetch(f"http://127.0.0.1:{port}/x.tar.gz", tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


# --------------------------------------------------------------------------- stratified_indices


def test_stratified_even_classes() -> None:
    y = np.repeat(np.arange(10), 50)
    idx = stratified_indices(y, 20, seed=0, key="data.train_limit")
    assert len(idx) == 20
    assert np.all(np.diff(idx) > 0)  # sorted, no repeats
    np.testing.assert_array_equal(np.bincount(y[idx], minlength=10), [2] * 10)


def test_stratified_uneven_classes_sum_to_limit() -> None:
    y = np.repeat(np.arange(3), [5, 3, 2])  # quotas for 7: 3.5, 2.1, 1.4
    idx = stratified_indices(y, 7, seed=0, key="k")
    assert len(idx) == 7
    assert np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(np.bincount(y[idx], minlength=3), [4, 2, 1])


def test_stratified_seeding() -> None:
    y = np.repeat(np.arange(10), 50)
    first = stratified_indices(y, 20, seed=3, key="k")
    np.testing.assert_array_equal(first, stratified_indices(y, 20, seed=3, key="k"))
    assert not np.array_equal(first, stratified_indices(y, 20, seed=4, key="k"))


@pytest.mark.parametrize("limit", [None, 12])
def test_stratified_all(limit) -> None:
    y = np.array([2, 0, 1, 0, 2, 1, 1, 0, 2, 0, 1, 2])
    np.testing.assert_array_equal(stratified_indices(y, limit, seed=0, key="k"), np.arange(12))


def test_stratified_limit_too_large() -> None:
    with pytest.raises(DataError, match=r"data\.test_limit is 13, larger than the 12"):
        stratified_indices(np.zeros(12, dtype=np.int32), 13, seed=0, key="data.test_limit")


# --------------------------------------------------------------------------- prepare / load


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    """A fetched image-folder archive: 3 classes, 6 train and 3 test images per class."""
    source = make_image_folder(tmp_path / "src", 6, 3, classes=UNSORTED, fmt="tar.gz")
    out = tmp_path / "raw"
    fetch(str(source), out)
    return out


def test_prepare_round_trip(raw_dir: Path, tmp_path: Path) -> None:
    out_file, metrics_file = tmp_path / "data.npz", tmp_path / "metrics" / "data.json"
    made = prepare(raw_dir, out_file, metrics_file, train_limit=9, test_limit=None, seed=5)
    loaded = load_prepared(out_file)

    assert loaded.class_names == made.class_names == ("airplane", "cat", "truck")
    for split, count in (("train", 9), ("test", 9)):
        got = loaded.split(split)
        assert got.x.dtype == np.uint8 and got.x.shape == (count, 32, 32, 3)
        assert got.y.dtype == np.int32 and got.y.shape == (count,)
        np.testing.assert_array_equal(got.x, made.split(split).x)
        np.testing.assert_array_equal(got.y, made.split(split).y)
    # the untouched test split is read in full, in order
    x_test, y_test = expected_split(UNSORTED, 3, TEST_SEED)
    np.testing.assert_array_equal(loaded.test.x, x_test)
    np.testing.assert_array_equal(loaded.test.y, y_test)
    # the train subset is 3 of each class's 6 images
    x_train, y_train = expected_split(UNSORTED, 6, TRAIN_SEED)
    np.testing.assert_array_equal(np.bincount(loaded.train.y), [3, 3, 3])
    for image, label in zip(loaded.train.x, loaded.train.y):
        assert any(np.array_equal(image, x) for x in x_train[y_train == label])

    metrics = json.loads(metrics_file.read_text())["data"]
    assert metrics["classes"] == ["airplane", "cat", "truck"]
    for split in ("train", "test"):
        x = loaded.split(split).x / 255.0
        assert metrics[split]["count"] == 9
        assert metrics[split]["per_class"] == {"airplane": 3, "cat": 3, "truck": 3}
        for c, channel in enumerate("rgb"):
            assert metrics[split]["mean"][channel] == pytest.approx(x[..., c].mean(), abs=1e-5)
            assert metrics[split]["std"][channel] == pytest.approx(x[..., c].std(), abs=1e-5)


def test_prepare_is_seeded(raw_dir: Path, tmp_path: Path) -> None:
    a = prepare(raw_dir, tmp_path / "a.npz", tmp_path / "a.json", 6, 3, seed=1)
    b = prepare(raw_dir, tmp_path / "b.npz", tmp_path / "b.json", 6, 3, seed=1)
    np.testing.assert_array_equal(a.train.x, b.train.x)
    np.testing.assert_array_equal(a.test.x, b.test.x)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


@pytest.mark.parametrize("limits, key", [((100, None), "data.train_limit"),
                                         ((None, 10), "data.test_limit")])
def test_prepare_limit_too_large_keeps_outputs(raw_dir: Path, tmp_path: Path, limits, key
                                               ) -> None:
    out_file, metrics_file = tmp_path / "data.npz", tmp_path / "data.json"
    prepare(raw_dir, out_file, metrics_file, train_limit=6, test_limit=3, seed=0)
    before = out_file.read_bytes(), metrics_file.read_bytes()
    with pytest.raises(DataError, match=rf"{key} is {max(v or 0 for v in limits)}"):
        prepare(raw_dir, out_file, metrics_file, *limits, seed=0)
    assert (out_file.read_bytes(), metrics_file.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.json", "data.npz", "raw", "src"]


def test_load_prepared_missing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no prepared data"):
        load_prepared(tmp_path / "absent.npz")


@pytest.mark.parametrize("content", [
    b"plain text, not numpy",
    b"PK\x03\x04 truncated zip",
    pytest.param("zip-without-arrays", id="zip-without-arrays"),
])
def test_load_prepared_not_npz(tmp_path: Path, content) -> None:
    path = tmp_path / "data.npz"
    if content == "zip-without-arrays":
        np.savez(path, something_else=np.zeros(3))
    else:
        path.write_bytes(content)
    with pytest.raises(DataError, match="not a prepared cnnbench data file"):
        load_prepared(path)


def test_load_prepared_npy(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    with open(path, "wb") as fh:
        np.save(fh, np.zeros(3))
    with pytest.raises(DataError, match="not a prepared cnnbench data file"):
        load_prepared(path)
