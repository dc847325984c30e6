"""The `dvc plots diff` page of dvc.yaml's top-level plots, rendered in headless Chromium.

A temporary git repository holds the project's dvc.yaml and its committed results (metrics,
training logs, evaluation plots, the figures redrawn by the current code) as the base, and
a pull-request commit whose training curves moved. The page must show the training curves
as charts with both revisions' lines, each model in its own colour and each revision in its
own dash, both told apart in the legends, and every figure once per revision, in one
format, two revisions side by side within a 1,280-pixel-wide window.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from helpers import DEFAULT_PARAMS, ROOT, VEGA_DIR, chromium, commit, console_errors, run

from cnnbench.models import display_name
from cnnbench.report.figures import model_colours, plot_all
from cnnbench.review.review import html_template

MODELS = list(DEFAULT_PARAMS["models"])
CURVES = tuple(f"plots/curves/{stem}.csv" for stem in ("val_accuracy", "val_loss",
                                                      "train_accuracy", "train_loss"))
#: A common laptop browser window's width, CSS pixels: the page must not scroll sideways
PAGE_WIDTH = 1280
#: Each model's colour, as the PNG figures draw it (display name -> hex)
COLOURS = {display_name(m): "#%02x%02x%02x" % tuple(round(255 * c) for c in colour[:3])
           for m, colour in model_colours(MODELS).items()}


#: the models whose committed results have robustness scores (a reliability chart each,
#: and with any of them a heat map)
SCORED = [m for m in MODELS if (ROOT / f"plots/robustness/{m}.json").is_file()]


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
    commit(repo, "base")
    for model in MODELS:  # every model's validation accuracy 0.05 higher
        path = repo / f"plots/train/{model}/plots/metrics/val/accuracy.tsv"
        header, *rows = path.read_text().splitlines()
        path.write_text("\n".join([header, *(f"{step}\t{float(value) + 0.05}" for step, value
                                             in (row.split("\t") for row in rows))]) + "\n")
    _figures(repo)
    run(["git", "commit", "-qam", "pull request"], repo)
    return repo


#: Marks the page's laid-out width on <body> once everything has loaded, for --dump-dom
MEASURE = ('<script>addEventListener("load", () => document.body.setAttribute('
           '"data-scroll-width", document.documentElement.scrollWidth))</script>')


def _page(repo: Path, out: Path, *targets: str) -> Path:
    """``dvc plots diff HEAD~1`` as HTML with offline Vega scripts; the page's path."""
    template = out.parent / f"{out.name}.template.html"
    template.write_text(html_template("HEAD~1", VEGA_DIR, out).replace("</body>",
                                                                     f"{MEASURE}\n</body>"))
    run(["dvc", "plots", "diff", "HEAD~1", "-o", str(out), "--html-template", str(template),
         *(["--targets", *targets] if targets else [])], repo)
    return out / "index.html"


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
        assert header == f"epoch,model,colour,{entry['y']}"
        names = [row.split(",")[1] for row in rows]
        assert list(dict.fromkeys(names)) == ["LeNet5", "AlexNet8", "VGG16", "Inception10",
                                              "ResNet18"]  # params order, display names
        # each model's colour in the PNG figures, so a line is the same network everywhere
        assert {row.split(",")[1]: row.split(",")[2] for row in rows} == COLOURS
    encoding = json.loads((ROOT / ".dvc/plots/curves.json").read_text())["encoding"]
    assert (encoding["color"]["field"], encoding["strokeDash"]["field"]) == ("model", "rev")


def test_the_page_shows_each_figure_once_per_revision_and_the_curve_charts(project,
                                                                            tmp_path):
    from PIL import Image

    figures = sorted(p.name for p in (project / "plots/figures").iterdir())
    assert figures and all(name.endswith(".png") for name in figures)
    for name in figures:  # two revisions side by side fit on a page
        with Image.open(project / "plots/figures" / name) as image:
            assert image.width <= PAGE_WIDTH // 2 - 40, (name, image.size)
    result = chromium(tmp_path, _page(project, tmp_path / "all"), "--dump-dom",
                       f"--window-size={PAGE_WIDTH},900")
    dom = result.stdout
    width = re.search(r'data-scroll-width="(\d+)"', dom)
    assert width and int(width[1]) <= PAGE_WIDTH, width  # nothing runs off to the side
    for name in figures:  # one heading per figure, its two revisions beside each other
        assert dom.count(f"<p>plots/figures/{name}</p>") == 1, name
    assert not re.search(r"plots/figures/[^\"<]*\.svg", dom)
    assert dom.count("<img") == 2 * len(figures)
    for chart in CURVES:
        assert f'<div id="{re.sub(r"[^A-Za-z0-9]", "_", chart)}"' in dom, chart
    canvases = re.findall(r'<canvas width="(\d+)" height="(\d+)" class="marks"', dom)
    # a confusion matrix, per-class bars and a reliability diagram per model, and the
    # corruption heat map; results from before robustness scores leave the heat map and
    # those models' reliability charts empty (0 x 0); the four curve charts draw as SVG
    expected = 1 + 3 * len(MODELS)
    assert len(canvases) == expected, result.stderr[-2000:]
    assert len(re.findall(r'<svg [^>]*class="marks"', dom)) == len(CURVES)
    drawn = [(w, h) for w, h in canvases if (w, h) != ("0", "0")]
    assert len(drawn) == 2 * len(MODELS) + len(SCORED) + bool(SCORED), canvases
    assert all(int(w) > 100 and int(h) > 100 for w, h in drawn), canvases
    assert not console_errors(result)


def _lines(dom: str) -> list[tuple[str, str, str, str]]:
    """Every curve's (model, revision, stroke colour, dash) in the SVG charts."""
    return re.findall(r'aria-label="[^"]*model: ([^;"]+); revision: ([^;"]+)"[^>]*'
                      r'aria-roledescription="line mark"[^>]*stroke="([^"]+)"[^>]*'
                      r'stroke-dasharray="([^"]+)"', dom)


def _legend(dom: str) -> dict[str, tuple[str, str]]:
    """Each legend entry's label -> its symbol's (stroke colour, dash)."""
    entries = re.findall(r'role-legend-symbol"[^>]*><path [^>]*?stroke="([^"]+)"'
                         r'(?:[^>]*?stroke-dasharray="([^"]+)")?[^>]*></path></g>'
                         r'<g class="mark-text role-legend-label"[^>]*><text [^>]*>([^<]+)<',
                         dom)
    return {label: (stroke, dash) for stroke, dash, label in entries}


def test_the_curve_charts_tell_each_model_and_revision_apart(project, tmp_path):
    """One colour per model (its colour in the figures), one dash per revision, and legends
    that draw both: a reader can name every line."""
    result = chromium(tmp_path, _page(project, tmp_path / "one", CURVES[0]), "--dump-dom")
    lines = _lines(result.stdout)
    assert len(lines) == 2 * len(MODELS), result.stderr[-2000:]  # each model, both revisions
    assert {(model, rev) for model, rev, *_ in lines} == {
        (name, rev) for name in COLOURS for rev in ("workspace", "HEAD~1")}
    for model, _rev, stroke, _dash in lines:
        assert stroke == COLOURS[model], (model, stroke)
    dashes = {rev: {dash for _m, r, _s, dash in lines if r == rev} for rev in ("workspace",
                                                                              "HEAD~1")}
    assert all(len(d) == 1 for d in dashes.values()) and dashes["workspace"] != dashes["HEAD~1"]
    legend = _legend(result.stdout)
    for name, colour in COLOURS.items():  # the model legend draws each model's colour
        assert legend[name][0] == colour, (name, legend.get(name))
    for rev, (dash,) in dashes.items():  # the revision legend draws each revision's dash
        stroke, drawn = legend[rev]
        assert stroke not in ("transparent", "none") and drawn == dash, (rev, legend[rev])
