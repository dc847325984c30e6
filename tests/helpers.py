"""Helpers shared by the tests: params files with some keys changed, temporary git + DVC
copies of the project in which the tests run `dvc` as a user would, the stage scripts run
as DVC runs them, folders compared file by file, and servers on 127.0.0.1.

Fixtures built from these live in conftest.py; tiny data sets in archives.py.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from archives import make_image_folder

ROOT = Path(__file__).resolve().parents[1]
STAGES = ROOT / "stages"
#: Where `make vega` puts the Vega scripts that review pages load offline.
VEGA_DIR = ROOT / ".venv" / "share" / "vega"
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


def pipeline() -> dict:
    """The project's dvc.yaml, its ``vars`` filled in."""
    text = (ROOT / "dvc.yaml").read_text()
    for key, value in yaml.safe_load(text)["vars"][0].items():
        text = text.replace("${" + key + "}", value)
    return yaml.safe_load(text)


def commit(repo: Path, message: str) -> None:
    """Commit everything in ``repo``'s work tree with ``message``."""
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", message], repo)


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
    commit(repo, "project")
    return repo


def tiny_project(base: Path, train_per_class: int, test_per_class: int, fmt: str = "dir",
                 **params) -> Path:
    """``make_project`` at ``base/repo`` on a tiny generated archive at ``base/data``:
    1 epoch, evaluation batches of 32, then ``params`` changed; committed, not run."""
    archive = make_image_folder(base / "data", train_per_class=train_per_class,
                                test_per_class=test_per_class, fmt=fmt)
    return make_project(base / "repo", **{"data__source": str(archive), "train__epochs": 1,
                                          "evaluate__batch_size": 32, **params})


def run_lenet5_project(base: Path, train_per_class: int, test_per_class: int, fmt: str,
                       message: str) -> Path:
    """A ``tiny_project`` with lenet5 alone, its pipeline run once and committed with
    ``message``."""
    repo = tiny_project(base, train_per_class, test_per_class, fmt,
                        models={"lenet5": net("lenet5")})
    run(["dvc", "repro"], repo)
    commit(repo, message)
    return repo


def lock_outputs(repo: Path) -> list[str]:
    """Every output path that ``repo``'s dvc.lock records, sorted."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return sorted({out["path"] for stage in lock["stages"].values()
                   for out in stage.get("outs", [])})


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


#: Networks written as users write them, each one file: a registered subclassed keras.Model
#: (subnet), keras.applications' MobileNetV2 nested in a model (mobilenet), and two that
#: evaluate could not use: a Lambda layer (lambdanet), logits without softmax (logitnet).
NETWORKS = ROOT / "tests" / "networks"


def add_model_line(repo: Path, line: str) -> None:
    """Append ``line`` (an entry, indented) to the ``models`` section of ``repo``'s
    params.yaml, as a user would, comments and the other sections kept."""
    params = repo / "params.yaml"
    params.write_text(re.sub(r"^models:\n(  .*\n)*", lambda m: m[0] + line,
                             params.read_text(), count=1, flags=re.MULTILINE))


def add_network(repo: Path, name: str) -> str:
    """Add ``NETWORKS/<name>.py`` to ``repo`` as one file in the package's models folder
    and one line under ``models``; returns the line."""
    shutil.copy2(NETWORKS / f"{name}.py", repo / "src" / "cnnbench" / "models" / f"{name}.py")
    line = f"  {name}: {{architecture: src/cnnbench/models/{name}.py}}\n"
    add_model_line(repo, line)
    return line


def cnnbench(*args: str, cwd: Path | None = None, timeout: float = 300,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the command line ``cnnbench args`` (this interpreter; the environment plus
    ``env``), unchecked."""
    return subprocess.run([sys.executable, "-m", "cnnbench", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def run_script(script: str, *args: str, cwd: Path, timeout: float = 300,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the stage script ``stages/<script>`` with ``args`` in ``cwd``, as DVC does
    (this interpreter; the environment plus ``env``)."""
    return subprocess.run([sys.executable, str(STAGES / script), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def assert_one_line_error(result: subprocess.CompletedProcess, expected: str) -> str:
    """``result`` refused its input (exit 2) with one stderr line, an ``error:`` that
    holds ``expected``; returns the line."""
    assert result.returncode == 2, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0], result.stderr
    assert expected in lines[0], lines[0]
    return lines[0]


def write_record(path: Path, record) -> Path:
    """Write ``record`` to ``path`` as JSON (a ``.json`` name) or YAML, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) if path.suffix == ".json"
                    else yaml.safe_dump(record, sort_keys=False))
    return path


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> bytes), to compare folders."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def closed_port() -> int:
    """A loopback port nothing listens on (free for a server to take)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder without logging; each GET's path goes to ``requests``."""

    requests: list[str]

    def do_GET(self):  # noqa: N802 - the base class's name
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@contextlib.contextmanager
def serve_folder(root: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``root`` over HTTP on 127.0.0.1 while inside: (base URL, paths requested)."""
    handler = type("Handler", (_QuietHandler,), {"requests": []})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess:
    """``page`` loaded in headless Chromium with ``args`` (``--dump-dom``, a screenshot);
    skips the test where Chromium or the offline Vega scripts are missing."""
    from cnnbench.review.review import VEGA_FILES

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium package)")
    if not all((VEGA_DIR / name).is_file() for name in VEGA_FILES):
        pytest.skip(f"no Vega scripts in {VEGA_DIR} (make vega)")
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
         "--v=0", "--virtual-time-budget=20000", *args, page.as_uri()],
        capture_output=True, text=True, timeout=180)


def console_errors(result: subprocess.CompletedProcess) -> list[str]:
    """The lines of a ``chromium`` run in which the page's console reports an error."""
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line
            and re.search(r"Uncaught|Error|Failed to load|ERR_", line)]


def change_cell(text: str, model_name: str | None, metric: str) -> str:
    """The change cell of a model's metric row in `cnnbench compare`'s table."""
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()
            if line.startswith("| ")]
    current = None
    for cells in rows:
        current = cells[0] or current
        if current == model_name and cells[1] == metric:
            return cells[4]
    raise AssertionError(f"no row {model_name} {metric} in\n{text}")
