"""`cnnbench refresh`: edits that cannot change any output are recorded without rerunning.

Fast: the syntax-tree comparison on strings (comments, docstrings and formatting set
aside; the first line that differs otherwise), what counts as reading source text, the
per-stage verdict on hand-made `dvc status` entries and dvc.lock entries, and the
look-up of a recorded version in a tiny git repository (several commits back; a shallow
clone). Slow: one project (lenet5 alone, 1 epoch, a tiny archive) run once, copied for
each case: a stage-wrapper edit leaves every stage current; a comment and a reworded
docstring are recorded with every model file untouched; a layer width, a renamed variable
and a param are refused and the gate names the stage; a fresh clone without the models
records a version several commits back; a shallow clone fails with one line.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import pytest
import yaml

from helpers import ROOT, lock_outputs, net, ran_stages, run, set_params

from cnnbench import models as registry
from cnnbench.errors import CnnbenchError
from cnnbench.review import gate
from cnnbench.review.refresh import examine, recorded_version
from cnnbench.source import (READS_SOURCE, REVIEWED, first_difference, parse, reads_docstrings,
                             source_reader)

OLD = '''"""Train a model."""

import numpy as np

WIDTH = 120


def train(x):
    """Fit ``x``."""
    total = np.sum(x)  # the sum
    return total * WIDTH


def score(y):
    return y
'''
#: The same code: comments, docstrings, blank lines, line breaks and parentheses changed.
COSMETIC = '''"""Train one model, reworded."""
# a new comment
import numpy as np
WIDTH = (120)

def train(x):
    """Fit ``x``, with a docstring
    over two lines."""
    # another comment
    total = np.sum(
        x,
    )
    return (total
            * WIDTH)


def score(y):
    """Now with a docstring."""
    return y
'''


# --- the syntax trees ---------------------------------------------------------------------


def test_comments_docstrings_and_formatting_are_no_difference():
    assert first_difference(OLD, COSMETIC) is None
    assert first_difference(OLD.encode(), COSMETIC.encode()) is None


@pytest.mark.parametrize("edit, line", [
    (("WIDTH = 120", "WIDTH = 121"), 5),  # a changed number
    (("WIDTH = 120", "WIDTH = 120.0"), 5),  # equal in Python, another number all the same
    (("total = np.sum(x)  # the sum\n    return total",
      "result = np.sum(x)  # the sum\n    return result"), 10),  # a renamed local variable
    (("return y", "return -y"), 15),
    (("def score(y):\n    return y\n", "def score(y):\n    return y\n\n\nEXTRA = 1\n"), 18),
])
def test_any_other_change_is_the_first_line_that_differs_in_the_new_file(edit, line):
    new = OLD.replace(*edit)
    assert new != OLD
    assert first_difference(OLD, new) == line


def test_a_moved_function_differs_where_the_order_changes():
    moved = OLD.replace('def score(y):\n    return y\n', '').replace(
        'def train(x):', 'def score(y):\n    return y\n\n\ndef train(x):')
    assert first_difference(OLD, moved) == 8  # `def score` now stands where `train` did
    assert moved.splitlines()[7] == "def score(y):"


def test_docstrings_count_when_asked_comments_and_formatting_still_do_not():
    reworded = OLD.replace('"""Fit ``x``."""', '"""Fit ``x`` to the data."""')
    assert first_difference(OLD, reworded) is None
    assert first_difference(OLD, reworded, docstrings=True) == 9
    commented = OLD.replace("return total * WIDTH", "return (total) * WIDTH  # why")
    assert first_difference(OLD, commented, docstrings=True) is None


def test_a_body_of_only_a_docstring_is_the_same_as_pass():
    assert first_difference('def f():\n    """Doc."""\n', "def f():\n    pass\n") is None
    assert first_difference('class C:\n    """Doc."""\n', "class C:\n    ...\n") == 2


def test_a_changed_coding_comment_that_changes_a_string_is_a_difference():
    old = "# -*- coding: utf-8 -*-\nNAME = 'caf\xc3\xa9'\n".encode("latin-1")
    new = "# -*- coding: latin-1 -*-\nNAME = 'caf\xc3\xa9'\n".encode("latin-1")
    assert first_difference(old, new) == 2


def test_invalid_python_is_a_one_line_error_naming_the_file_and_line():
    with pytest.raises(CnnbenchError, match=r"^x\.py:2: not valid Python"):
        first_difference("x = 1\n", "x = 1\ndef (:\n", filename="x.py")


@pytest.mark.parametrize("code, found", [
    ("import inspect\n", (1, "inspect")),
    ("from inspect import getsource\n", (1, "getsource")),
    ("x = 1\nimport linecache\n", (2, "linecache")),
    ("import tokenize as t\n", (1, "tokenize")),
    ("text = open(__file__).read()\n", (1, "__file__")),
    ("line = sys._getframe().f_lineno\n", (1, "_getframe")),
    ("layer = keras.layers.Lambda(lambda x: x)\n", (1, "Lambda")),
    ("f = getattr(mod, 'getsource')\n", (1, "getsource")),
    ('"""Inspect the data; see tokenize."""\n# import inspect\nx = 1\n', None),
])
def test_reading_source_text_is_found_in_the_code_not_in_comments_or_docstrings(code, found):
    assert source_reader(parse(code)) == found


def test_doc_is_found_in_the_code_only():
    assert reads_docstrings(parse("parser = make(description=__doc__)\n"))
    assert reads_docstrings(parse("text = build.__doc__\n"))
    assert not reads_docstrings(parse('"""Uses __doc__? No."""\n# __doc__\n'))
    assert reads_docstrings(parse((ROOT / "stages" / "train.py").read_text()))


def test_of_the_pipelines_files_only_the_registry_and_the_code_fingerprint_read_source():
    """Every Python file a stage depends on, read as refresh reads it: a new use of source
    text in one of them must be reviewed (and added to REVIEWED, with the reason) or
    refresh refuses its stages."""
    text = (ROOT / "dvc.yaml").read_text().replace("${lib}", "src/cnnbench")
    deps = set(re.findall(r"- ((?:src|stages)/[\w/]+\.py)", text))
    deps |= {str(p.relative_to(ROOT)) for p in (ROOT / "src/cnnbench/models").glob("*.py")}
    readers = {path for path in deps if source_reader(parse((ROOT / path).read_bytes()))}
    assert readers == set(REVIEWED) == {"src/cnnbench/models/__init__.py",
                                        "src/cnnbench/models/saving.py",
                                        "src/cnnbench/source.py"}
    assert {"inspect", "linecache", "tokenize", "getsource", "getdoc"} <= READS_SOURCE


def test_the_registry_reads_no_docstring_comment_or_line_number(tmp_path):
    """Why the registry may read source: what it reads of a model file is the same for
    any two versions that refresh takes as equal."""
    source = (ROOT / "src/cnnbench/models/lenet5.py").read_text()
    edited = ('# a comment first\n\n' + source.replace('"""LeNet5 as', '"""The LeNet5 of')
              .replace("def build(", "# the network\ndef build(", 1))
    assert first_difference(source, edited) is None
    (tmp_path / "a.py").write_text(source)
    (tmp_path / "b.py").write_text(edited)
    assert registry._top_level(tmp_path / "a.py") == registry._top_level(tmp_path / "b.py")


# --- the verdict on a stage ---------------------------------------------------------------


def _examine(files: dict[str, tuple[str, str]], entries: list | None = None):
    """The verdict on a stage of ``files`` ({path: (old, new) text}) and one output, where
    ``dvc status`` lists ``entries`` (default: the files that changed)."""
    versions = {p: (old.encode(), new.encode()) for p, (old, new) in files.items()}
    entry = {"cmd": "python run.py", "deps": [
        {"path": path, "hash": "md5", "md5": hashlib.md5(old).hexdigest(), "size": len(old)}
        for path, (old, _) in versions.items()],
        "outs": [{"path": "out.txt", "hash": "md5", "md5": "0" * 32, "size": 1}]}
    entries = entries or [{"changed deps": {p: "modified" for p, (o, n) in files.items()
                                            if o != n}}]
    olds = {hashlib.md5(old).hexdigest(): old for old, _ in versions.values()}
    return examine("s", entries, entry, lambda path, md5, size: olds[md5],
                   lambda path: versions[path][1])


def test_a_stage_of_cosmetic_edits_is_recorded_with_its_changed_files():
    verdict = _examine({"a.py": (OLD, COSMETIC), "b.py": ("x = 1\n", "x = 1\n")})
    assert verdict.harmless and verdict.files == ["a.py"]


@pytest.mark.parametrize("files, entries, why", [
    ({"a.py": (OLD, OLD.replace("WIDTH = 120", "WIDTH = 84"))}, None,
     "a.py:5 differs in code: `WIDTH = 84`"),
    ({"a.py": (OLD, COSMETIC)}, [{"changed deps": {"a.py": "modified", "params.yaml":
                                                   {"train.epochs": "modified"}}}],
     "param train.epochs modified"),
    ({"a.py": (OLD, COSMETIC), "reference.yaml": ("a: 1\n", "a: 2\n")}, None,
     "dep reference.yaml modified, not Python source"),
    ({"a.py": (OLD, COSMETIC)}, ["changed command"], "changed command"),
    ({"a.py": (OLD, COSMETIC)}, [{"changed outs": {"out.txt": "modified"}}],
     "out out.txt modified"),
    # added to dvc.yaml: ``dvc status`` lists a dependency as modified, an output as
    # deleted, a param as new (one removed it does not list; refresh drops it as DVC would)
    ({"a.py": (OLD, COSMETIC)}, [{"changed deps": {"a.py": "modified", "new.py": "modified"}}],
     "dep new.py added to dvc.yaml"),
    ({"a.py": (OLD, COSMETIC)}, [{"changed deps": {"a.py": "modified"}},
                                 {"changed outs": {"new.txt": "deleted"}}],
     "out new.txt added to dvc.yaml"),
    ({"a.py": (OLD, COSMETIC)}, [{"changed deps": {"a.py": "modified", "params.yaml":
                                                   {"train.seed": "new"}}}],
     "param train.seed new"),
    ({"a.py": (OLD, COSMETIC), "b.py": ("import inspect\n", "import inspect\n")}, None,
     "b.py:1 uses inspect, which can read source text, docstrings or line numbers"),
    ({"a.py": (OLD + "d = __doc__\n", COSMETIC + "d = __doc__\n")}, None,
     'a.py:1 differs in code (__doc__ is read, so docstrings count as code): '
     '`"""Train one model, reworded."""`'),
    ({"a.py": (OLD, COSMETIC), "b.py": ("x = f.__doc__\n", "x = f.__doc__\n")}, None,
     'a.py:1 differs in code (__doc__ is read, so docstrings count as code): '
     '`"""Train one model, reworded."""`'),
])
def test_anything_more_leaves_the_stage_stale_with_the_reason(files, entries, why):
    verdict = _examine(files, entries)
    assert not verdict.harmless and verdict.why == why


def test_absent_outputs_are_no_change():
    verdict = _examine({"a.py": (OLD, COSMETIC), "data/prepared.npz": ("", "")}, [
        {"changed deps": {"a.py": "modified", "data/prepared.npz": "not in cache"}},
        {"changed outs": {"out.txt": "deleted"}}])
    assert verdict.harmless


# --- the recorded version, from git -------------------------------------------------------


def _git(cwd: Path, *args: str) -> str:
    return run(["git", *args], cwd).stdout


@pytest.fixture
def history(tmp_path) -> Path:
    """A git repository where code.py has three versions, each in its own commit, and
    another file changed in between."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    for i in range(3):
        (repo / "code.py").write_text(f"VERSION = {i}\n")
        (repo / "other.txt").write_text(f"{i}\n")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-qm", f"version {i}")
        (repo / "other.txt").write_text(f"{i} again\n")
        _git(repo, "commit", "-qam", f"other {i}")
    return repo


def test_the_recorded_version_is_found_several_commits_back(history, monkeypatch):
    monkeypatch.chdir(history)
    first = b"VERSION = 0\n"
    assert recorded_version("code.py", hashlib.md5(first).hexdigest(), len(first)) == first
    assert recorded_version("code.py", hashlib.md5(first).hexdigest()) == first
    (history / "code.py").write_text("VERSION = 9\n")
    _git(history, "add", "code.py")  # staged, not committed: the index holds it
    assert recorded_version("code.py", hashlib.md5(b"VERSION = 9\n").hexdigest()) == \
        b"VERSION = 9\n"


def test_a_version_git_history_does_not_hold_is_one_line_naming_the_file(history, tmp_path,
                                                                         monkeypatch):
    shallow = tmp_path / "shallow"
    run(["git", "clone", "-q", "--depth", "1", f"file://{history}", str(shallow)], tmp_path)
    monkeypatch.chdir(shallow)
    first = hashlib.md5(b"VERSION = 0\n").hexdigest()
    with pytest.raises(CnnbenchError) as err:
        recorded_version("code.py", first, 12)
    assert str(err.value) == (f"code.py: the version dvc.lock recorded (md5 {first}) is in no "
                              "commit of this clone's git history; this clone is shallow: run "
                              "`git fetch --unshallow`, then try again")
    latest = b"VERSION = 2\n"
    assert recorded_version("code.py", hashlib.md5(latest).hexdigest()) == latest
    monkeypatch.chdir(history)
    with pytest.raises(CnnbenchError, match=r"^code\.py: .* is in no commit .*; fetch the "
                       r"branch that recorded it, or run `dvc repro` for its stages$"):
        recorded_version("code.py", "0" * 32)


# --- what the gate and the comment say ----------------------------------------------------


def test_the_comment_names_refresh_for_a_stage_stale_only_by_cosmetic_edits(monkeypatch):
    cosmetic = {"train@lenet5": ["src/cnnbench/training/train.py"]}
    monkeypatch.setattr(gate, "check", lambda: ({}, cosmetic, []))
    text = gate.markdown()
    assert text.startswith("⚠️ **Stale only by edits that cannot change any output (comments, "
                           "docstrings, formatting):** the committed results are what this code")
    assert "Run `cnnbench refresh` and commit `dvc.lock`." in text
    assert text.endswith("- `train@lenet5`: src/cnnbench/training/train.py")
    monkeypatch.setattr(gate, "check", lambda: ({"prepare": ["dep x.py modified"]}, cosmetic, []))
    text = gate.markdown()
    assert "**Stale results:**" in text and "these stages need no rerun" in text


# --- end to end (on `repo`, conftest's copy of the `trained` project) ----------------------

TRAIN = "src/cnnbench/training/train.py"
MODEL = "models/lenet5.keras"


def cnnbench(repo: Path, *args: str):
    return run([sys.executable, "-m", "cnnbench", *args], repo, check=False)


def edit(repo: Path, path: str, old: str, new: str, count: int = 1) -> None:
    file = repo / path
    text = file.read_text()
    assert old in text, (path, old)
    file.write_text(text.replace(old, new, count))


def recorded_md5(repo: Path, stage: str, path: str) -> str:
    deps = yaml.safe_load((repo / "dvc.lock").read_text())["stages"][stage]["deps"]
    return next(dep["md5"] for dep in deps if dep["path"] == path)


def untouched(repo: Path) -> dict[str, tuple[bytes, int]]:
    """Every output dvc.lock lists that is a file, with its bytes and modification time."""
    return {p: ((repo / p).read_bytes(), (repo / p).stat().st_mtime_ns)
            for p in lock_outputs(repo) if (repo / p).is_file()}


@pytest.mark.slow
def test_an_edit_of_the_stage_wrapper_leaves_every_stage_current(repo):
    edit(repo, "src/cnnbench/runner.py", "EXIT_ERROR = 2", "EXIT_ERROR = 3  # changed")
    assert run(["dvc", "status", "--json"], repo).stdout.strip() == "{}"
    result = cnnbench(repo, "gate")
    assert result.returncode == 0 and "results are current" in result.stdout


@pytest.mark.slow
def test_a_comment_and_a_reworded_docstring_are_recorded_without_rerunning(repo):
    edit(repo, TRAIN, '"""Train one registered model on the prepared data, logging every',
         '"""Train a registered model on the prepared data and log every')
    edit(repo, TRAIN, "import hashlib\n", "import hashlib  # the digest of the ids seen\n")
    before, lock = untouched(repo), (repo / "dvc.lock").read_text()
    assert MODEL in before

    gate_run = cnnbench(repo, "gate")
    assert gate_run.returncode == 1
    assert gate_run.stdout.splitlines() == [
        "gate: stale only by edits that cannot change any output (comments, docstrings, "
        "formatting): the committed results are what this code and these params produce. "
        "Run `cnnbench refresh` and commit `dvc.lock`.",
        f"- `train@lenet5`: {TRAIN}"]

    dry = cnnbench(repo, "refresh", "--dry")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert dry.stdout.splitlines() == [f"refresh: would record train@lenet5 (comments, "
                                       f"docstrings, formatting only): {TRAIN}"]
    assert (repo / "dvc.lock").read_text() == lock

    result = cnnbench(repo, "refresh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [f"refresh: recorded train@lenet5 (comments, "
                                          f"docstrings, formatting only): {TRAIN}"]
    assert not ran_stages(result.stdout + result.stderr)
    assert untouched(repo) == before  # every output, models/lenet5.keras included
    diff = run(["git", "diff", "-U0", "dvc.lock"], repo).stdout
    assert [line[0] + line.split(":")[0].strip(" +-") for line in diff.splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))] == \
        ["-md5", "-size", "+md5", "+size"]
    assert run(["dvc", "status", "--json"], repo).stdout.strip() == "{}"
    assert "results are current" in cnnbench(repo, "gate").stdout
    again = cnnbench(repo, "refresh")
    assert again.returncode == 0 and "nothing to record" in again.stdout


def _layer_width(repo: Path) -> tuple[str, str]:
    edit(repo, "src/cnnbench/models/lenet5.py", "CONV_BLOCKS = ((6, 5), (16, 5))",
         "CONV_BLOCKS = ((8, 5), (16, 5))")
    return "train@lenet5", "src/cnnbench/models/lenet5.py:{} differs in code: " \
        "`CONV_BLOCKS = ((8, 5), (16, 5))`"


def _renamed_variable(repo: Path) -> tuple[str, str]:
    text = (repo / TRAIN).read_text()
    (repo / TRAIN).write_text(re.sub(r"\bhistory\b", "epoch_history", text))
    return "train@lenet5", f"{TRAIN}:{{}} differs in code: `epoch_history = EpochHistory(name)`"


def _param(repo: Path) -> tuple[str, str]:
    set_params(repo, models__lenet5=net("lenet5", epochs=2))
    return "train@lenet5", "param models.lenet5 modified"


@pytest.mark.slow
@pytest.mark.parametrize("change", [_layer_width, _renamed_variable, _param])
def test_a_change_of_the_code_or_params_is_refused_and_the_gate_names_the_stage(repo, change):
    lock = (repo / "dvc.lock").read_text()
    stage, why = change(repo)
    if "{}" in why:  # the line: where the new text is, in the working tree's file
        path, _, text = why.partition(":{}")
        wanted = text.split("`")[1]
        why = why.format(next(i for i, line in enumerate(
            (repo / path).read_text().splitlines(), 1) if line.strip() == wanted))
    result = cnnbench(repo, "refresh")
    assert result.returncode == 1
    assert f"refresh: left {stage} stale: {why}" in result.stdout.splitlines()
    assert re.search(rf"^refresh: \d+ stale stages? not recorded \(.*{re.escape(stage)}",
                     result.stdout, re.MULTILINE)
    assert (repo / "dvc.lock").read_text() == lock
    gate_run = cnnbench(repo, "gate")
    assert gate_run.returncode == 1
    assert gate_run.stdout.startswith("gate: stale results: these stages would rerun")
    assert any(line.startswith(f"- `{stage}`: ") for line in gate_run.stdout.splitlines())
    assert "cnnbench refresh" not in gate_run.stdout


@pytest.mark.slow
def test_a_fresh_clone_records_a_version_several_commits_back_without_the_models(trained,
                                                                                   tmp_path):
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(trained), str(clone)], tmp_path)
    assert not (clone / MODEL).exists()
    edit(clone, TRAIN, "import os\n", "import os  # for the environment\n")
    run(["git", "commit", "-qam", "a comment"], clone)
    edit(clone, TRAIN, '"""Train one registered model', '"""Train a registered model')
    run(["git", "commit", "-qam", "a docstring"], clone)

    result = cnnbench(clone, "refresh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [f"refresh: recorded train@lenet5 (comments, "
                                          f"docstrings, formatting only): {TRAIN}"]
    assert not (clone / MODEL).exists()
    assert "results are current" in cnnbench(clone, "gate").stdout

    run(["git", "checkout", "-q", "dvc.lock"], clone)  # as committed: stale again
    shallow = tmp_path / "shallow"
    run(["git", "clone", "-q", "--depth", "1", f"file://{clone}", str(shallow)], tmp_path)
    failed = cnnbench(shallow, "refresh")
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines() == [
        f"cnnbench refresh: error: {TRAIN}: the version dvc.lock recorded (md5 "
        f"{recorded_md5(shallow, 'train@lenet5', TRAIN)}) is in no commit of this clone's "
        "git history; this clone is shallow: run `git fetch --unshallow`, then try again"]
    gate_run = cnnbench(shallow, "gate")  # cannot tell: stale, as `dvc status` says
    assert gate_run.returncode == 1
    assert f"- `train@lenet5`: dep {TRAIN} modified" in gate_run.stdout.splitlines()
