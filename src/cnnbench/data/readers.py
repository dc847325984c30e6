"""Readers: the boundary where outside data enters, and nothing in it ever runs.

Two source formats are read:

- the official CIFAR-10 python tarball (``cifar-10-python.tar.gz``): its pickled batches
  go through a restricted unpickler that builds only plain containers and uint8 arrays,
  and every object is checked before use;
- image-folder data: a directory, or a .tar / .tar.gz / .zip archive, holding
  ``train/<class>/*`` and ``test/<class>/*`` at its root or one folder down. Class ids
  are the sorted class names.

Archives may not hold links, devices or FIFOs, and members' declared sizes are checked
from the headers before anything is read. Every problem is a ``DataError`` naming the file.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import stat
import tarfile
import warnings
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from cnnbench.data.dataset import SPLITS, Dataset, Split
from cnnbench.errors import DataError

OFFICIAL_NAME = "cifar-10-python.tar.gz"
OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
OFFICIAL_DIR = "cifar-10-batches-py"
IMAGE_SHAPE = (32, 32, 3)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm")
# What an archive may declare, checked from its headers before any member is read: an
# official batch is about 31 MB, a CIFAR-10 image 1-3 KB, a large photo a few MB.
MAX_MEMBER_BYTES = 64 << 20
# CIFAR-10 is about 180 MB as batches or PNG files; 4 GiB leaves room for 20 times that.
MAX_TOTAL_BYTES = 4 << 30


def _decode_image(data: bytes, where: str, resize: bool = False) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow warns above Image.MAX_IMAGE_PIXELS (a decompression bomb): refuse it
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
        with img:
            img.load()
            if img.mode != "RGB":
                if not resize:
                    raise DataError(f"{where}: expected an RGB image, found mode {img.mode} "
                                    "(set data.resize: true to convert)")
                img = img.convert("RGB")
            if img.size != IMAGE_SHAPE[:2]:
                if not resize:
                    raise DataError(f"{where}: expected a 32x32 image, found "
                                    f"{img.size[0]}x{img.size[1]} (set data.resize: true "
                                    "to resize)")
                img = img.resize(IMAGE_SHAPE[:2], Image.Resampling.BICUBIC)
            return np.asarray(img, dtype=np.uint8)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
        raise DataError(f"{where}: refusing to decode it ({err})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DataError(f"{where}: not a readable image ({err})") from None


# An entry of image-folder data: (POSIX path, handle to read it, or None for a folder).
Entry = tuple[str, object]


def _check_name(name: str, label: str, seen: set[str]) -> str:
    """Refuse absolute paths, '..' and duplicates: a member must stay inside the archive."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise DataError(f"{label}: {name!r} points outside the archive (absolute path or "
                        "'..'); refusing to read it")
    key = path.as_posix().rstrip("/")
    if key in seen:
        raise DataError(f"{label}: {key!r} appears twice in the archive")
    seen.add(key)
    return key


def _check_size(name: str, size: int, total: int, label: str) -> int:
    """Refuse a member declaring more than MAX_MEMBER_BYTES, or a running total above
    MAX_TOTAL_BYTES, before it is read; return the new total."""
    if size > MAX_MEMBER_BYTES:
        raise DataError(f"{label}: {name!r} declares {size} bytes, more than the "
                        f"{MAX_MEMBER_BYTES >> 20} MiB a data file may have; refusing to read it")
    if total + size > MAX_TOTAL_BYTES:
        raise DataError(f"{label}: its files declare more than {MAX_TOTAL_BYTES >> 30} GiB "
                        "in all, far more than CIFAR-sized data; refusing to read it")
    return total + size


def _tar_entries(tar: tarfile.TarFile, label: str) -> list[Entry]:
    entries, seen, total = [], set(), 0
    for member in tar:  # each header is checked as it is read, before the data after it
        name = _check_name(member.name, label, seen)
        if member.issym() or member.islnk():
            raise DataError(f"{label}: {name!r} is a link; links are not allowed in data archives")
        if member.isdir():
            entries.append((name, None))
        elif member.isfile():
            total = _check_size(name, member.size, total, label)
            entries.append((name, member))
        else:
            raise DataError(f"{label}: {name!r} is not a regular file or folder")
    return entries


def _zip_entries(zf: zipfile.ZipFile, label: str) -> list[Entry]:
    entries, seen, total = [], set(), 0
    for info in zf.infolist():
        name = _check_name(info.filename, label, seen)
        kind = stat.S_IFMT(info.external_attr >> 16)  # Unix file type; 0 if not recorded
        if kind == stat.S_IFLNK:
            raise DataError(f"{label}: {name!r} is a link; links are not allowed in data archives")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise DataError(f"{label}: {name!r} is not a regular file or folder")
        if not info.is_dir():
            total = _check_size(name, info.file_size, total, label)
        entries.append((name, None if info.is_dir() else info))
    return entries


def dir_entries(root: Path, label: str) -> list[Entry]:
    entries, total = [], 0
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            raise DataError(f"{label}: {name!r} is a symbolic link; links are not allowed")
        mode = path.stat().st_mode
        if stat.S_ISREG(mode):
            total = _check_size(name, path.stat().st_size, total, label)
        elif not stat.S_ISDIR(mode):
            raise DataError(f"{label}: {name!r} is not a regular file or folder")
        entries.append((name, None if path.is_dir() else path))
    return entries


def _image_folder_members(entries: list[Entry], label: str) -> dict[str, dict[str, list[Entry]]]:
    """Group entries into split -> class -> [(path, handle)], finding the root folder."""
    found: dict[str, dict[str, dict[str, list[Entry]]]] = {}
    for path, handle in entries:
        parts = PurePosixPath(path).parts
        if any(p.startswith(".") or p == "__MACOSX" for p in parts):
            continue
        # root/<split>/<class>/<file>, with root empty or one folder
        for depth in (0, 1):
            rest = parts[depth:]
            if not rest or rest[0] not in SPLITS or len(rest) not in (2, 3):
                continue
            if len(rest) == 2 and handle is not None:
                break  # a file directly in a split folder: not part of a class
            root = "/".join(parts[:depth])
            images = found.setdefault(root, {}).setdefault(rest[0], {}).setdefault(rest[1], [])
            if len(rest) == 3 and handle is not None:
                if not path.lower().endswith(IMAGE_SUFFIXES):
                    raise DataError(f"{label}: {path}: not an image file (expected one of "
                                    f"{', '.join(IMAGE_SUFFIXES)})")
                images.append((path, handle))
            break
    roots = [r for r, splits in found.items() if all(s in splits for s in SPLITS)]
    if not roots:
        seen = sorted({s for splits in found.values() for s in splits})
        raise DataError(f"{label}: expected train/<class>/<image> and test/<class>/<image> at "
                        f"the root or one folder down; found splits {seen or 'none'}")
    if len(roots) > 1:
        raise DataError(f"{label}: found several image-folder roots: {', '.join(sorted(roots))}")
    return found[roots[0]]


def _read_image_folder(groups: dict[str, dict[str, list[Entry]]], read, label: str,
                       resize: bool = False, decode: bool = True) -> Dataset | None:
    classes = {s: sorted(groups[s]) for s in SPLITS}
    if classes["train"] != classes["test"]:
        only = sorted(set(classes["train"]) ^ set(classes["test"]))
        raise DataError(f"{label}: classes differ between train and test: {', '.join(only)} "
                        "in one split only")
    class_names = tuple(classes["train"])
    for split in SPLITS:
        for name in class_names:
            if not groups[split][name]:
                raise DataError(f"{label}: {split}/{name} has no images")
    if not decode:
        return None
    splits = {}
    for split in SPLITS:
        images, labels = [], []
        for class_id, name in enumerate(class_names):
            for path, handle in sorted(groups[split][name], key=lambda item: item[0]):
                try:
                    data = read(handle)
                except OSError as err:
                    raise DataError(f"{label}: {path}: cannot be read ({err})") from None
                images.append(_decode_image(data, f"{label}: {path}", resize))
                labels.append(class_id)
        splits[split] = Split(np.stack(images), np.asarray(labels, dtype=np.int32))
    return Dataset(splits["train"], splits["test"], class_names)


class _NdarrayName:
    """Stands for ``numpy.ndarray`` in a pickle: accepted as the array type, never called."""


class _BatchUnpickler(pickle.Unpickler):
    """Unpickle an official CIFAR-10 batch, building nothing but NumPy arrays.

    CIFAR-10's batches (Python 2 pickles) name only ``numpy.core.multiarray._reconstruct``,
    ``numpy.ndarray`` and ``numpy.dtype``; Python 3 pickles of arrays may name
    ``numpy._core.numeric._frombuffer`` (protocol 5) instead. Any other name is refused
    before it is imported, so a batch cannot call ``os.system`` or anything else.
    """

    ALLOWED = frozenset(f"{package}.{name}" for package in ("numpy.core", "numpy._core")
                        for name in ("multiarray._reconstruct", "numeric._frombuffer"))

    def __init__(self, file, where: str) -> None:
        super().__init__(file, encoding="bytes")
        self.where = where

    def find_class(self, module: str, name: str):
        from numpy._core.multiarray import _reconstruct
        from numpy._core.numeric import _frombuffer

        qualified = f"{module}.{name}"
        if qualified == "numpy.ndarray":
            return _NdarrayName
        if qualified == "numpy.dtype":
            return np.dtype
        if qualified not in self.ALLOWED:
            raise DataError(f"{self.where} tries to load {qualified}; refusing (an official "
                            "batch holds only lists, bytes, numbers and NumPy arrays)")
        if name == "_frombuffer":
            return _frombuffer

        def reconstruct(subtype, shape, dtype):
            # NumPy always pickles an empty array and then sets its data: nothing to allocate
            if subtype is not _NdarrayName or shape != (0,):
                raise DataError(f"{self.where}: unexpected array construction; refusing")
            return _reconstruct(np.ndarray, shape, dtype)

        return reconstruct


def _check_plain(obj: object, where: str) -> None:
    """Require dicts, lists, bytes, str, ints and uint8 arrays only, all the way down."""
    stack, seen = [obj], set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, np.ndarray):
            if item.dtype != np.uint8:
                raise DataError(f"{where}: holds a NumPy array of {item.dtype}, not uint8")
        elif not isinstance(item, (bytes, str, int)):
            raise DataError(f"{where}: holds a {type(item).__name__}, not plain data")


def _class_names(meta: object, where: str) -> tuple[str, ...]:
    names = meta.get(b"label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(n, bytes) for n in names):
        raise DataError(f"{where}: no b'label_names' list of class names")
    try:
        return tuple(n.decode() for n in names)
    except UnicodeDecodeError:
        raise DataError(f"{where}: a class name is not UTF-8 text") from None


def _batch_arrays(batch: object, num_classes: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """The batch's images (N, 3, 32, 32) and labels, after checking shape and label range."""
    data = batch.get(b"data") if isinstance(batch, dict) else None
    labels = batch.get(b"labels") if isinstance(batch, dict) else None
    pixels = IMAGE_SHAPE[0] * IMAGE_SHAPE[1] * IMAGE_SHAPE[2]
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != pixels:
        raise DataError(f"{where}: b'data' is not an array of rows of {pixels} pixels")
    if not isinstance(labels, list) or len(labels) != len(data):
        raise DataError(f"{where}: b'labels' is not a list of one label per image")
    if not all(type(n) is int and 0 <= n < num_classes for n in labels):
        raise DataError(f"{where}: a label is not a class id from 0 to {num_classes - 1}")
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int32)


def _read_official(tar: tarfile.TarFile, label: str, decode: bool = True) -> Dataset | None:
    members = {PurePosixPath(m.name).name: m for m in tar.getmembers() if m.isfile()}
    expected = ["batches.meta", "test_batch"] + [f"data_batch_{i}" for i in range(1, 6)]
    missing = [name for name in expected if name not in members]
    if missing:
        raise DataError(f"{label}: official CIFAR-10 tarball lacks "
                        f"{', '.join(f'{OFFICIAL_DIR}/{n}' for n in missing)}")

    def where(name: str) -> str:
        return f"{label}: {OFFICIAL_DIR}/{name}"

    def load(name: str) -> object:
        try:
            obj = _BatchUnpickler(tar.extractfile(members[name]), where(name)).load()
        except DataError:
            raise
        except Exception as err:  # noqa: BLE001 - any unpickling failure is a corrupt file
            reason = " ".join(str(err).split())  # some pickle errors span two lines
            raise DataError(f"{where(name)}: cannot be read ({type(err).__name__}: "
                            f"{reason})") from None
        _check_plain(obj, where(name))
        return obj

    # Every member is unpickled and checked even without decode: a hostile one fails fetch.
    class_names = _class_names(load("batches.meta"), where("batches.meta"))
    splits = {}
    for split, batches in (("train", [f"data_batch_{i}" for i in range(1, 6)]),
                           ("test", ["test_batch"])):
        xs, ys = [], []
        for batch_name in batches:
            x, y = _batch_arrays(load(batch_name), len(class_names), where(batch_name))
            if decode:
                xs.append(x)
                ys.append(y)
        if decode:
            x = np.ascontiguousarray(np.concatenate(xs).transpose(0, 2, 3, 1))
            splits[split] = Split(x, np.concatenate(ys))
    return Dataset(splits["train"], splits["test"], class_names) if decode else None


def _check_tar_end(tar: tarfile.TarFile) -> None:
    """Require the end-of-archive marker: tarfile silently stops at a cut between members."""
    tar.fileobj.seek(tar.offset)
    if tar.fileobj.read(2 * tarfile.BLOCKSIZE) != bytes(2 * tarfile.BLOCKSIZE):
        raise tarfile.ReadError("no end-of-archive marker after the last member")


def read_source(path: str | os.PathLike, resize: bool = False,
                decode: bool = True) -> Dataset | None:
    """Read a fetched source (official tarball, or image-folder directory/archive).

    Image-folder images must be 32x32 RGB unless ``resize`` (then they are converted).
    Every problem is a ``DataError`` naming the file. With ``decode=False`` only the
    structure is checked (members, splits, classes; no image is decoded) and None returned.
    """
    path = Path(path)
    label = path.name
    if path.is_dir():
        groups = _image_folder_members(dir_entries(path, label), label)
        return _read_image_folder(groups, Path.read_bytes, label, resize, decode)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                groups = _image_folder_members(_zip_entries(zf, label), label)
                return _read_image_folder(groups, zf.read, label, resize, decode)
        if tarfile.is_tarfile(path):
            with tarfile.open(path, "r:*") as tar:
                entries = _tar_entries(tar, label)
                _check_tar_end(tar)
                if any(PurePosixPath(n).name == "batches.meta" for n, _ in entries):
                    return _read_official(tar, label, decode)
                return _read_image_folder(_image_folder_members(entries, label),
                                          lambda m: tar.extractfile(m).read(), label, resize,
                                          decode)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error) as err:
        raise DataError(f"{label}: corrupt or truncated archive ({err})") from None
    with open(path, "rb") as fh:
        if fh.read(4) == b"PK\x03\x04":
            raise DataError(f"{label}: corrupt or truncated .zip archive (no central directory)")
    raise DataError(f"{label}: not a directory, .tar, .tar.gz or .zip archive")



def images_digest(path: str | os.PathLike) -> str:
    """The sha256 of image-folder data's images, whatever the packing.

    It hashes one line ``<split>/<class>/<file name>\t<sha256 of the file's bytes>`` per
    image that ``read_source`` would read, in sorted order: the same for a folder, a .zip or a
    tarball of the same image files, under any top folder or none, with any compression or
    file dates, and with any other file beside them (a README). Every problem is a
    ``DataError`` naming the file, as in ``read_source``; an official tarball is refused.
    """
    path = Path(path)
    label = path.name

    def digest(entries: list[Entry], read, order=None) -> str:
        groups = _image_folder_members(entries, label)
        _read_image_folder(groups, read, label, decode=False)  # the same checks as fetch's
        images = [(f"{split}/{name}/{PurePosixPath(member).name}", handle)
                  for split in SPLITS for name in groups[split]
                  for member, handle in groups[split][name]]
        if order is not None:  # read a compressed tarball front to back, never seeking back
            images.sort(key=lambda item: order(item[1]))
        lines = []
        for key, handle in images:
            try:
                lines.append(f"{key}\t{hashlib.sha256(read(handle)).hexdigest()}\n")
            except OSError as err:
                raise DataError(f"{label}: {key}: cannot be read ({err})") from None
        return hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()

    if path.is_dir():
        return digest(dir_entries(path, label), Path.read_bytes)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                return digest(_zip_entries(zf, label), zf.read)
        if tarfile.is_tarfile(path):
            with tarfile.open(path, "r:*") as tar:
                entries = _tar_entries(tar, label)
                _check_tar_end(tar)
                if any(PurePosixPath(n).name == "batches.meta" for n, _ in entries):
                    raise DataError(f"{label}: an official CIFAR-10 tarball, not image-folder "
                                    "data")
                return digest(entries, lambda m: tar.extractfile(m).read(),
                              order=lambda m: m.offset_data)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error) as err:
        raise DataError(f"{label}: corrupt or truncated archive ({err})") from None
    raise DataError(f"{label}: not a directory, .tar, .tar.gz or .zip archive")

# --------------------------------------------------------------------------- prepare
