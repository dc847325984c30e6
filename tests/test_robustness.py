"""Bad input, crashes and reruns: every error is one clear line, and nothing is lost.

- Each bad input (a wrong param, a broken or malicious archive, an unusable image) is run
  through the real stage script: it must exit non-zero with one line naming the problem,
  and leave the outputs of an earlier good run byte-identical.
- A training stage killed with SIGKILL mid-run resumes from its last finished epoch and
  ends with exactly the metrics of a run that was never interrupted; two identical runs
  give identical metrics.
- A diverging run stops with an error naming the model and epoch.
- Randomly mutated archives, and random or mutated pickles as official batches, make the
  reader raise only its own clear errors, and no pickle gets anything imported (hypothesis).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import pickletools
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from archives import (class_images, make_image_folder, make_official_tarball,
                      python2_pickle)
from helpers import (STAGES, assert_one_line_error, closed_port, network_files, run_script,
                     tree, write_params)
from cnnbench.errors import DataError
from cnnbench.data.prepare import prepare
from cnnbench.data.readers import read_source

CLASSES = ("cat", "dog", "frog")


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def tar_with(path: Path, extra: list[tarfile.TarInfo | tuple[str, bytes]],
             skip: tuple[str, ...] = ()) -> Path:
    """A valid 3-class image-folder tar plus ``extra`` members, minus those under ``skip``."""
    with tarfile.open(path, "w") as tar:
        for split, count in (("train", 3), ("test", 2)):
            for class_id, name in enumerate(CLASSES):
                for i, image in enumerate(class_images(count, class_id, seed=len(split))):
                    member = f"{split}/{name}/{i:04d}.png"
                    if not member.startswith(skip):
                        add_bytes(tar, member, png_bytes(image))
        for item in extra:
            if isinstance(item, tarfile.TarInfo):
                tar.addfile(item)
            else:
                add_bytes(tar, *item)
    return path


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def link(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


def folder(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    return info


def outputs(workdir: Path) -> dict[str, bytes]:
    """The fetch and prepare outputs of ``workdir``, file by file."""
    return {f"{folder}/{name}": data for folder in ("data", "metrics")
            for name, data in tree(workdir / folder).items()}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder where fetch and prepare ran once, successfully, on a small archive."""
    work = tmp_path_factory.mktemp("robust")
    good = tar_with(work / "good.tar", [])
    write_params(work / "params.yaml", data__source=str(good))
    for script, args in (("fetch.py", ["--out", "data/raw"]),
                         ("prepare.py", ["--raw", "data/raw", "--out", "data/prepared/d.npz",
                                         "--summary", "metrics/data.json"])):
        result = run_script(script, *args, cwd=work)
        assert result.returncode == 0, result.stderr
    return work


def make_source(kind: str, folder_path: Path) -> Path:
    """A bad data source of the given kind, written under ``folder_path``."""
    folder_path.mkdir(parents=True, exist_ok=True)
    gray = png_bytes(np.zeros((32, 32), dtype=np.uint8))
    small = png_bytes(np.zeros((8, 16, 3), dtype=np.uint8))
    if kind == "missing":
        return folder_path / "nowhere.tar.gz"
    if kind == "wrong-md5":
        make_official_tarball(folder_path / "cifar-10-python.tar.gz")
        return folder_path / "cifar-10-python.tar.gz"
    if kind == "random-bytes":
        (folder_path / "noise.tar.gz").write_bytes(random.Random(0).randbytes(5000))
        return folder_path / "noise.tar.gz"
    if kind == "truncated":
        whole = make_image_folder(folder_path / "whole", 3, 2, fmt="tar.gz")
        data = whole.read_bytes()
        (folder_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])
        return folder_path / "cut.tar.gz"
    extra = {
        "dotdot": [("train/cat/../../../evil.png", b"x")],
        "absolute": [("/etc/evil.png", b"x")],
        "symlink": [link("train/cat/0099.png", "/etc/passwd")],
        "no-test-split": [],
        "one-split-class": [("train/zebra/0000.png", png_bytes(class_images(1, 0, 1)[0]))],
        "empty-class": [folder("train/zebra"), folder("test/zebra")],
        "duplicate": [("train/cat/0000.png", png_bytes(class_images(1, 0, 1)[0]))],
        "not-an-image-file": [("train/cat/notes.txt", b"hello")],
        "undecodable": [("train/cat/0099.png", b"\x89PNG this is not a png")],
        "wrong-size": [("test/dog/0099.png", small)],
        "grayscale": [("train/frog/0099.png", gray)],
    }[kind]
    skip = ("test/",) if kind == "no-test-split" else ()
    return tar_with(folder_path / f"{kind}.tar", extra, skip)


# (case, stage, expected text of the one-line error)
SOURCE_CASES = [
    ("missing", "fetch", "nowhere.tar.gz': no such file or directory"),
    ("wrong-md5", "fetch", "does not match the official CIFAR-10 tarball's"),
    ("unreachable", "fetch", "is unreachable"),
    ("random-bytes", "fetch", "noise.tar.gz: not a directory, .tar, .tar.gz or .zip archive"),
    ("truncated", "fetch", "cut.tar.gz: corrupt or truncated archive"),
    ("dotdot", "fetch", "'train/cat/../../../evil.png' points outside the archive"),
    ("absolute", "fetch", "'/etc/evil.png' points outside the archive"),
    ("symlink", "fetch", "'train/cat/0099.png' is a link"),
    ("no-test-split", "fetch", "found splits ['train']"),
    ("one-split-class", "fetch", "classes differ between train and test: zebra in one split"),
    ("empty-class", "fetch", "train/zebra has no images"),
    ("duplicate", "fetch", "'train/cat/0000.png' appears twice"),
    ("not-an-image-file", "fetch", "train/cat/notes.txt: not an image file"),
    ("undecodable", "prepare", "train/cat/0099.png: not a readable image"),
    ("wrong-size", "prepare", "test/dog/0099.png: expected a 32x32 image, found 16x8"),
    ("grayscale", "prepare", "train/frog/0099.png: expected an RGB image, found mode L"),
]

PARAMS_CASES = [
    ({"data__train_limit": 1000}, "data.train_limit is 1000, larger than the 9 images"),
    ({"data__test_limit": 0}, "data.test_limit must be an integer in [1, 2147483647] or null, got 0"),
    ({"train__epoch": 3}, "unknown key 'train.epoch' (did you mean 'train.epochs'?)"),
    ({"train__batch_size": "32"}, "train.batch_size must be an integer, got '32'"),
    ({"train__epochs": -1}, "train.epochs must be an integer in [1, 2147483647], got -1"),
    ({"train__learning_rate": -0.1}, "train.learning_rate must be in (0, 10], got -0.1"),
    ({"train__optimizer": "adamw2"}, "train.optimizer must be one of"),
    ({"models__resnet34": {}}, "models.resnet34.architecture: missing; name the network's .py "
                                "file, e.g. resnet34: {architecture: src/cnnbench/models/resnet34.py}"),
    ({"data__resize": "yes"}, "data.resize must be true or false, got 'yes'"),
]


@pytest.mark.parametrize("kind, stage, expected", SOURCE_CASES, ids=[c[0] for c in SOURCE_CASES])
@pytest.mark.slow
def test_bad_source_is_one_clear_error_and_keeps_earlier_outputs(workdir, tmp_path, kind, stage,
                                                                 expected):
    before = outputs(workdir)
    if kind == "unreachable":
        source = f"http://127.0.0.1:{closed_port()}/cifar-10-python.tar.gz"
    else:
        source = str(make_source(kind, tmp_path / "bad"))
    if stage == "fetch":
        params = write_params(tmp_path / "params.yaml", data__source=source)
        result = run_script("fetch.py", "--out", "data/raw", "--params", str(params),
                            cwd=workdir)
    else:  # the source fetched elsewhere, prepared onto the earlier outputs
        raw = tmp_path / "raw"
        raw.mkdir()
        shutil.copy(source, raw)
        result = run_script("prepare.py", "--raw", str(raw), "--out", "data/prepared/d.npz",
                            "--summary", "metrics/data.json", cwd=workdir)
    assert_one_line_error(result, expected)
    assert outputs(workdir) == before
    assert not [p for p in workdir.rglob(".*.tmp*")], "temporary files left behind"


@pytest.mark.parametrize("changes, expected", PARAMS_CASES, ids=[next(iter(c[0])) for c in
                                                                  PARAMS_CASES])
@pytest.mark.slow
def test_bad_params_are_one_clear_error_and_keep_earlier_outputs(workdir, tmp_path, changes,
                                                                 expected):
    before = outputs(workdir)
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    source = params["data"]["source"]
    params_file = write_params(tmp_path / "params.yaml", data__source=source, **changes)
    result = run_script("prepare.py", "--raw", "data/raw", "--out", "data/prepared/d.npz",
                        "--summary", "metrics/data.json", "--params", str(params_file),
                        cwd=workdir)
    assert_one_line_error(result, expected)
    assert outputs(workdir) == before


# ----------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """Prepared data (240 train, 40 test images) and params for a 3-epoch inception10 run
    (30 steps an epoch)."""
    folder_path = network_files(tmp_path_factory.mktemp("tiny"), "inception10", "alexnet8",
                                "lenet5")
    archive = make_image_folder(folder_path / "src", train_per_class=24, test_per_class=4,
                                fmt="tar")
    raw = folder_path / "raw"
    raw.mkdir()
    shutil.copy(archive, raw)
    prepare(raw, folder_path / "data.npz", folder_path / "data.json")
    write_params(folder_path / "params.yaml", data__source=str(archive),
                 train__epochs=3, train__batch_size=8)
    return folder_path


def train_args(tiny: Path, run: str, model: str = "inception10",
               params: Path | None = None) -> list[str]:
    return [model, "--data", str(tiny / "data.npz"),
            "--model-out", str(tiny / run / "model.keras"),
            "--log-dir", str(tiny / run / "log"),
            "--checkpoint-dir", str(tiny / run / "checkpoint"),
            "--params", str(params or tiny / "params.yaml")]


def logged(tiny: Path, run: str) -> dict:
    """Everything a run logged except wall times."""
    log = tiny / run / "log"
    summary = json.loads((log / "metrics.json").read_text())
    summary.pop("time")
    curves = {str(p.relative_to(log)): p.read_text()
              for p in sorted((log / "plots" / "metrics").rglob("*.tsv"))
              if "time" not in p.parts}
    return {"summary": summary, "curves": curves}


@pytest.fixture(scope="module")
def reference(tiny) -> dict:
    result = run_script("train.py", *train_args(tiny, "reference"), cwd=tiny)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (tiny / "reference" / "checkpoint").exists(), "checkpoint not removed"
    return logged(tiny, "reference")


@pytest.mark.slow
def test_two_identical_runs_give_identical_metrics(tiny, reference):
    result = run_script("train.py", *train_args(tiny, "again"), cwd=tiny)
    assert result.returncode == 0, result.stderr[-3000:]
    assert logged(tiny, "again") == reference
    assert reference["summary"]["epochs"] == 3
    assert len(reference["curves"]) == 4  # train and val, loss and accuracy


@pytest.mark.slow
def test_sigkill_mid_training_then_rerun_resumes_with_identical_metrics(tiny, reference):
    args = train_args(tiny, "killed")
    state = tiny / "killed" / "checkpoint" / "current" / "state.json"
    process = subprocess.Popen([sys.executable, str(STAGES / "train.py"), *args], cwd=tiny,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not state.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # into the next epoch
        assert process.poll() is None, "training ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    done = json.loads(state.read_text())["epochs"]
    assert 1 <= done < 3
    assert not (tiny / "killed" / "model.keras").exists()  # no half-written outputs
    assert not (tiny / "killed" / "log").exists()

    result = run_script("train.py", *args, cwd=tiny)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"resuming from the checkpoint of epoch {done}" in result.stdout
    assert logged(tiny, "killed") == reference
    assert not (tiny / "killed" / "checkpoint").exists()
    assert not [p for p in (tiny / "killed").rglob(".*.tmp*")]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.slow
def test_sigterm_or_ctrl_c_is_one_line_and_leaves_no_outputs(tiny, sig):
    run = f"stopped-{sig.name}"
    # Enough epochs that training cannot end before the signal lands, however fast the machine.
    params = write_params(tiny / f"{run}.yaml", data__source="unused", train__epochs=500,
                          train__batch_size=4)
    args = train_args(tiny, run, params=params)
    process = subprocess.Popen([sys.executable, str(STAGES / "train.py"), *args], cwd=tiny,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:  # wait until training has started
        if line.startswith("train inception10:"):
            break
    time.sleep(1.0)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == (
        "train.py: interrupted; nothing was written. Run `dvc repro` again to redo it.")
    assert "Traceback" not in stderr
    assert not (tiny / run / "model.keras").exists()
    assert not (tiny / run / "log").exists()


def test_a_swallowed_sigterm_still_stops_before_any_output_is_written(tmp_path):
    """A KeyboardInterrupt can vanish inside a __del__ or a GC callback; the stop must not."""
    from cnnbench.runner import run_stage
    from cnnbench.files import write_json

    target = tmp_path / "metrics.json"
    reached_write = []

    def main(argv):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises here
        except KeyboardInterrupt:
            pass  # swallowed, as an exception raised inside __del__ is
        reached_write.append(True)
        write_json(target, {"accuracy": 1.0})

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert run_stage(main, []) == 130
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert reached_write, "the stage did not go on after the swallowed interrupt"
    assert not target.exists()
    assert not list(tmp_path.iterdir())  # no temporary file left either


def test_an_error_that_follows_an_interrupt_is_reported_as_the_interrupt(capsys):
    """An interrupt that library code masks, or that leaves an object half-built so that the
    next call fails with another error, still ends as the one interrupted line and 130; the
    same error without a stop request still raises."""
    from cnnbench.runner import run_stage

    def main(argv, stop_first=True):
        if stop_first:
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)  # the handler raises here
            except KeyboardInterrupt:
                pass  # masked, as a library callback can
        raise RuntimeError("state left half-built")

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert run_stage(main, []) == 130
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].endswith(
            ": interrupted; nothing was written. Run `dvc repro` again to redo it.")
        with pytest.raises(RuntimeError, match="half-built"):
            run_stage(lambda argv: main(argv, stop_first=False), [])
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def test_an_interrupt_swallowed_in_a_destructor_prints_no_traceback(tmp_path):
    """SIGTERM landing inside a ``__del__`` (or a GC callback, as JAX's are) is not raised
    there; the stage still stops with its one line, and Python's "Exception ignored"
    traceback is not printed."""
    script = tmp_path / "stage.py"
    script.write_text(textwrap.dedent("""
        import os, signal, time
        from cnnbench.runner import run_stage
        from cnnbench.stop import raise_if_stopped

        class Resource:
            def __del__(self):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(2)  # the handler runs in here

        def main(argv):
            Resource()  # destroyed at once
            print("went on", flush=True)
            raise_if_stopped()

        raise SystemExit(run_stage(main))
    """))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 130
    assert "went on" in result.stdout  # the interrupt really was swallowed in __del__
    assert result.stderr.strip().splitlines() == [
        "stage.py: interrupted; nothing was written. Run `dvc repro` again to redo it."]


def test_a_nan_loss_stops_fit_with_an_error_naming_model_and_epoch():
    """The mechanism, on any backend: a model whose loss turns NaN in its second epoch."""
    import keras

    from cnnbench.training.logs import DivergenceError, EpochHistory

    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3, name="logits")(inputs)
    model = keras.Model(inputs, keras.layers.Softmax()(hidden))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")

    class PoisonAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            kernel = self.model.get_layer("logits").kernel
            kernel.assign(keras.ops.full(kernel.shape, float("nan")))

    x, y = np.ones((8, 4), "float32"), np.zeros(8, "int32")
    with pytest.raises(DivergenceError, match=r"^toy: loss became nan in epoch 2; training "
                                              r"diverged"):
        model.fit(x, y, epochs=3, verbose=0,
                  callbacks=[EpochHistory("toy"), PoisonAfterFirstEpoch()])


@pytest.mark.skipif(os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
                    reason="the trigger (SGD at learning rate 10 on AlexNet8) diverges to NaN "
                           "with TensorFlow's numerics; other backends clip it to a finite loss")
@pytest.mark.slow
def test_a_diverging_run_stops_with_an_error_naming_model_and_epoch(tiny, tmp_path):
    params = write_params(tmp_path / "params.yaml", train__epochs=2, train__batch_size=16,
                          train__optimizer="sgd", train__learning_rate=10.0)
    result = run_script("train.py", *train_args(tiny, "diverged", "alexnet8", params), cwd=tiny)
    assert result.returncode == 2, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("train.py: error: alexnet8: loss became nan in epoch 1")
    assert not (tiny / "diverged" / "model.keras").exists()


# ----------------------------------------------------------------------------- fuzzing


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> list[tuple[str, bytes]]:
    """Valid archives of every accepted kind, to mutate."""
    folder_path = tmp_path_factory.mktemp("seeds")
    out = []
    for fmt in ("tar", "tar.gz", "zip"):
        path = make_image_folder(folder_path / fmt, 2, 1, classes=("a", "b"), fmt=fmt)
        out.append((fmt, path.read_bytes()))
    make_official_tarball(folder_path / "official.tar.gz", per_batch=2)
    out.append(("tar.gz", (folder_path / "official.tar.gz").read_bytes()))
    return out


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_mutated_archives_raise_only_our_clear_errors(seeds, tmp_path, data):
    fmt, original = data.draw(st.sampled_from(seeds), label="seed archive")
    blob = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        kind = data.draw(st.sampled_from(["flip", "cut", "insert", "zero"]), label="kind")
        at = data.draw(st.integers(0, max(len(blob) - 1, 0)), label="offset")
        if kind == "flip" and blob:
            blob[at] ^= data.draw(st.integers(1, 255), label="mask")
        elif kind == "cut":
            del blob[at:]
        elif kind == "insert":
            blob[at:at] = data.draw(st.binary(min_size=1, max_size=64), label="bytes")
        else:
            blob[at:at + 512] = bytes(min(512, len(blob) - at))
    path = tmp_path / f"fuzz.{fmt}"
    path.write_bytes(bytes(blob))
    try:
        dataset = read_source(path)
    except DataError as err:
        assert str(err) and "\n" not in str(err)
    else:  # a mutation that left a readable archive must give a consistent data set
        assert dataset.train.x.dtype == np.uint8 and dataset.train.x.shape[1:] == (32, 32, 3)
        assert len(dataset.train.x) == len(dataset.train.y)


@pytest.fixture(scope="module")
def batches() -> dict[str, list[bytes]]:
    """Each official member pickled as the real tarball does and as Python 3 does."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(2, 3072), dtype=np.uint8)
    objects = {"batches.meta": {b"label_names": [c.encode() for c in CLASSES]}}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        objects[name] = {b"batch_label": name.encode(), b"labels": [0, 2], b"data": x,
                         b"filenames": [b"a.png", b"b.png"]}
    return {name: [python2_pickle(obj), pickle.dumps(obj), pickle.dumps(obj, protocol=5)]
            for name, obj in objects.items()}


# Pickle fragments that name callables (GLOBAL, STACK_GLOBAL) or call them (REDUCE, INST)
OPCODES = [b"cos\nsystem\n", b"cbuiltins\neval\n", b"\x8c\x05posix\x8c\x06system\x93",
           b"cnumpy\nload\n", b"cnumpy\nndarray\n", b"R", b"b", b"(", b"t", b"i__main__\nX\n"]


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_random_or_mutated_official_batches_raise_only_our_errors_and_import_nothing(
        batches, tmp_path, monkeypatch, data):
    """Every import a pickle can ask for goes through ``find_class`` (GLOBAL, STACK_GLOBAL,
    INST, OBJ and EXT all call it), so a spy on it sees each one: every name it let
    through must be one of NumPy's array-building names."""
    from cnnbench.data import readers as data_module

    asked: list[tuple[str, object]] = []
    monkeypatch.undo()  # the spy of the previous example: spies must not nest
    original = data_module._BatchUnpickler.find_class

    def spy(self, module, name):
        found = original(self, module, name)
        asked.append((f"{module}.{name}", found))
        return found

    monkeypatch.setattr(data_module._BatchUnpickler, "find_class", spy)
    target = data.draw(st.sampled_from(sorted(batches)), label="member")
    if data.draw(st.booleans(), label="random bytes"):
        blob = bytearray(data.draw(st.binary(max_size=512), label="bytes"))
    else:
        blob = bytearray(data.draw(st.sampled_from(batches[target]), label="pickle"))
        if data.draw(st.booleans(), label="splice"):  # at an opcode boundary, so it runs
            starts = [at for _, _, at in pickletools.genops(bytes(blob))]
            at = data.draw(st.sampled_from(starts), label="boundary")
            blob[at:at] = data.draw(st.sampled_from(OPCODES), label="opcode")
        for _ in range(data.draw(st.integers(0, 3), label="mutations")):
            at = data.draw(st.integers(0, len(blob)), label="offset")
            kind = data.draw(st.sampled_from(["flip", "cut", "insert"]), label="kind")
            if kind == "flip" and at < len(blob):
                blob[at] ^= data.draw(st.integers(1, 255), label="mask")
            elif kind == "cut":
                del blob[at:]
            else:
                blob[at:at] = data.draw(st.binary(min_size=1, max_size=16), label="bytes")
    path = tmp_path / "mirror.tar"
    with tarfile.open(path, "w") as tar:
        for name, pickles in batches.items():
            add_bytes(tar, f"cifar-10-batches-py/{name}", bytes(blob) if name == target
                      else pickles[0])
    try:
        dataset = read_source(path)
    except DataError as err:
        assert str(err) and "\n" not in str(err)
    else:
        assert dataset.train.x.dtype == np.uint8 and dataset.train.x.shape[1:] == (32, 32, 3)
    allowed = {"numpy.ndarray", "numpy.dtype"} | data_module._BatchUnpickler.ALLOWED
    assert {name for name, _ in asked} <= allowed
    assert all(found is np.dtype or found is data_module._NdarrayName or callable(found)
               and found.__module__ in ("cnnbench.data.readers", "numpy._core.numeric")
               for _, found in asked)


def test_random_bytes_raise_only_our_clear_errors(tmp_path):
    rng = random.Random(1)
    for i in range(200):
        path = tmp_path / f"noise{i}.{rng.choice(['tar', 'tar.gz', 'zip', 'bin'])}"
        path.write_bytes(rng.randbytes(rng.randint(0, 4096)))
        with pytest.raises(DataError) as err:
            read_source(path)
        assert str(err.value) and "\n" not in str(err.value), path.name  # one clear line


def test_a_handled_interrupt_leaves_no_stop_behind_for_the_caller(tmp_path):
    """After run_stage returned 130, code in the same process writes outputs as usual and
    the caller's signal handlers are back."""
    from cnnbench.runner import run_stage
    from cnnbench.files import write_json

    before = signal.getsignal(signal.SIGTERM)

    def main(argv):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises here

    assert run_stage(main, []) == 130
    assert signal.getsignal(signal.SIGTERM) is before
    write_json(tmp_path / "after.json", {"ok": True})  # raised KeyboardInterrupt before
    assert (tmp_path / "after.json").exists()
