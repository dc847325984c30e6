"""The `dvc plots diff` page of dvc.yaml's top-level plots, rendered in headless Chromium.

A temporary git repository holds the project's dvc.yaml and its committed results (metrics,
training logs, evaluation plots, the figures redrawn by the current code) as the base, and
a pull-request commit whose training curves moved. The page must show the training curves
as charts with both revisions' lines, and every figure once per revision, in one format.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers import DEFAULT_PARAMS, ROOT, run

from cnnbench.report.figures import plot_all
from cnnbench.review.review import VEGA_FILES, html_template

VEGA_DIR = ROOT / ".venv" / "share" / "vega"
MODELS = list(DEFAULT_PARAMS["models"])
CURVES = tuple(f"plots/curves/{stem}.csv" for stem in ("val_accuracy", "val_loss",
                                                      "train_accuracy", "train_loss"))
#: DVC's colours of the first and second revision in its line charts
WORKSPACE, BASE = (0x94, 0x5D, 0xD6), (0x13, 0xAD, 0xC7)


#: whether the committed results have robustness scores (a heat map and reliability charts)
SCORED = (ROOT / "plots/robustness").is_dir()


def _figures(repo: Path) -> list[str]:
    return plot_all(MODELS, repo / "metrics", repo / "plots/train", repo / "reports/data.json",
                    repo / "reference/seed_report.yaml", repo / "plots/figures",
                    repo / "plots/curves", repo / "plots/robustness")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("plots") / "repo"
    repo.mkdir()
    for name in ("dvc.yaml", "params.yaml", ".dvcignore", ".dvc/config", ".dvc/.gitignore",
                 ".dvc/plots", "metrics", "plots/train", "plots/eval", "reports/data.json", "reference",
                 *(["plots/robustness"] if SCORED else [])):
        source, target = ROOT / name, repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, target)
    _figures(repo)
    run(["git", "init", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "base"], repo)
    for model in MODELS:  # every model's validation accuracy 0.05 higher
        path = repo / f"plots/train/{model}/plots/metrics/val/accuracy.tsv"
        header, *rows = path.read_text().splitlines()
        path.write_text("\n".join([header, *(f"{step}\t{float(value) + 0.05}" for step, value
                                             in (row.split("\t") for row in rows))]) + "\n")
    _figures(repo)
    run(["git", "commit", "-qam", "pull request"], repo)
    return repo


def _page(repo: Path, out: Path, *targets: str) -> Path:
    """``dvc plots diff HEAD~1`` as HTML with offline Vega scripts; the page's path."""
    template = out.parent / f"{out.name}.template.html"
    template.write_text(html_template("HEAD~1", VEGA_DIR, out))
    run(["dvc", "plots", "diff", "HEAD~1", "-o", str(out), "--html-template", str(template),
         *(["--targets", *targets] if targets else [])], repo)
    return out / "index.html"


def _chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium package)")
    if not all((VEGA_DIR / name).is_file() for name in VEGA_FILES):
        pytest.skip(f"no Vega scripts in {VEGA_DIR} (make vega)")
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
         "--v=0", "--virtual-time-budget=20000", *args, page.as_uri()],
        capture_output=True, text=True, timeout=180)


def test_the_curve_charts_name_no_model_and_their_data_holds_every_model(project):
    """dvc.yaml charts each curve from one file of the plot stage, with the template that
    draws a line per model: adding a network to params.yaml adds its curves, no edit here."""
    text = (ROOT / "dvc.yaml").read_text()
    plots = text.split("\nplots:", 1)[1]
    assert not [m for m in MODELS if m in plots]
    definitions = {k: v for entry in yaml.safe_load(text)["plots"] for k, v in entry.items()}
    assert definitions["plots/figures"] is None
    for chart in CURVES:
        entry = definitions[chart.replace("plots/curves", "${curves}")]
        assert (entry["template"], entry["x"]) == ("curves", "epoch")
        header, *rows = (project / chart).read_text().splitlines()
        assert header == f"epoch,model,{entry['y']}"
        names = [row.split(",")[1] for row in rows]
        assert list(dict.fromkeys(names)) == ["LeNet5", "AlexNet8", "VGG16", "Inception10",
                                              "ResNet18"]  # params order, display names
    template = json.loads((ROOT / ".dvc/plots/curves.json").read_text())
    assert template["encoding"]["strokeDash"]["field"] == "model"
    assert template["encoding"]["color"] == "<DVC_METRIC_COLOR>"  # DVC's colour per revision


def test_the_page_shows_each_figure_once_per_revision_and_the_curve_charts(project,
                                                                            tmp_path):
    from PIL import Image

    figures = sorted(p.name for p in (project / "plots/figures").iterdir())
    assert figures and all(name.endswith(".png") for name in figures)
    for name in figures:  # two revisions side by side fit on a page
        with Image.open(project / "plots/figures" / name) as image:
            assert image.width <= 1000, (name, image.size)
    result = _chromium(tmp_path, _page(project, tmp_path / "all"), "--dump-dom")
    dom = result.stdout
    for name in figures:  # one heading per figure, its two revisions beside each other
        assert dom.count(f"<p>plots/figures/{name}</p>") == 1, name
    assert not re.search(r"plots/figures/[^\"<]*\.svg", dom)
    assert dom.count("<img") == 2 * len(figures)
    for chart in CURVES:
        assert f'<div id="{re.sub(r"[^A-Za-z0-9]", "_", chart)}"' in dom, chart
    canvases = re.findall(r'<canvas width="(\d+)" height="(\d+)" class="marks"', dom)
    # the four curve charts and the corruption heat map, and a confusion matrix, per-class
    # bars and a reliability diagram per model; results from before robustness scores
    # leave the heat map and the reliability charts empty (0 x 0)
    expected = len(CURVES) + 1 + 3 * len(MODELS)
    assert len(canvases) == expected, result.stderr[-2000:]
    drawn = [(w, h) for w, h in canvases if (w, h) != ("0", "0")]
    assert len(drawn) == expected - (0 if SCORED else 1 + len(MODELS)), canvases
    assert all(int(w) > 100 and int(h) > 100 for w, h in drawn), canvases
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert not [line for line in console if re.search(r"Uncaught|Error|Failed to load|ERR_",
                                                      line)]


def test_the_validation_accuracy_chart_draws_both_revisions_curves(project, tmp_path):
    from PIL import Image
    import numpy as np

    page = _page(project, tmp_path / "one", CURVES[0])
    shot = tmp_path / "chart.png"
    _chromium(tmp_path, page, "--window-size=900,700", f"--screenshot={shot}")
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    for colour in (WORKSPACE, BASE):  # five curves each; a legend symbol is ~30 pixels
        drawn = int((np.abs(pixels - np.array(colour)).sum(axis=2) < 60).sum())
        assert drawn > 400, (colour, drawn)
