"""What a stage prints: TensorFlow's start-up notices are gone, its real warnings are not."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from archives import make_image_folder
from helpers import network_files, run_script, write_params

from cnnbench.data.prepare import prepare

#: The lines that used to fill a run's log on every stage start.
NOISE = re.compile(r"oneDNN custom operations are on|before absl::InitializeLog|"
                   r"use_unbounded_threadpool")
ONEDNN_NOTICE = ("I0000 00:00:1796059042.189818    8344 port.cc:153] oneDNN custom operations "
                 "are on. You may see slightly different numerical results.")
REAL_WARNING = ("W0000 00:00:1796059574.325996   17980 port.cc:148] TF_ENABLE_ONEDNN_OPTS is "
                "not set to either '0', 'false', '1', or 'true'.")


def test_startup_notices_are_dropped_and_every_other_line_kept():
    script = textwrap.dedent(f"""
        import os
        from cnnbench.runner import without_startup_notices
        with without_startup_notices():
            os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called "
                        b"are written to STDERR\\n{ONEDNN_NOTICE}\\n{REAL_WARNING}\\n")
            raise SystemExit("a real error")
        """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [REAL_WARNING, "a real error"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    folder = network_files(tmp_path_factory.mktemp("logs"), "lenet5")
    raw = folder / "raw"
    raw.mkdir()
    shutil.copy(make_image_folder(folder / "src", 4, 2, fmt="tar"), raw)
    prepare(raw, folder / "data.npz", folder / "data.json")
    write_params(folder / "params.yaml", train__epochs=1, train__batch_size=20)
    return folder


def train_stage(folder: Path, **env: str) -> subprocess.CompletedProcess:
    return run_script("train.py", "lenet5", "--data", "data.npz", "--model-out", "m.keras",
                      "--log-dir", "log", "--checkpoint-dir", "ck", cwd=folder, env=env)


@pytest.mark.slow
def test_a_train_stage_prints_its_own_lines_only(tiny):
    result = train_stage(tiny)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = (result.stdout + result.stderr).splitlines()
    assert not [line for line in lines if NOISE.search(line)]
    # the run's header, Keras' one line for the epoch, and where the model went
    assert len(lines) == 3, lines
    assert lines[0].startswith("train lenet5: 40 images, 1 epochs")


@pytest.mark.slow
def test_a_bad_tensorflow_setting_still_shows(tiny):
    result = train_stage(tiny, TF_ENABLE_ONEDNN_OPTS="maybe")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "TF_ENABLE_ONEDNN_OPTS is not set to either '0', 'false', '1', or 'true'" in \
        result.stderr
    assert not NOISE.search(result.stdout + result.stderr)
