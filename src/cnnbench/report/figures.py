"""SciencePlots figures of a run: per-model curves and comparisons across models.

``plot_all`` writes PNGs into one folder, one file per figure (``dvc plots diff`` shows
every image of the folder, so a second format would show each figure twice), at a
resolution that puts two revisions side by side on a page 1,280 pixels wide (each figure
at most 600 pixels wide):

- ``<model>_curves.png``: accuracy above loss per epoch, training against validation, as
  in the seed report's figures 12-16;
- ``test_accuracy``: test accuracy per model, beside the seed's;
- ``accuracy_vs_params``: test accuracy against parameter count;
- ``accuracy_vs_time``: test accuracy against training wall time;
- ``accuracy_vs_macs``: test accuracy against forward multiply-accumulates per image;
- ``val_accuracy``: validation accuracy per epoch of every model on one chart;
- ``<model>_reliability.png``: the reliability diagram of one model on the clean test
  split (accuracy against confidence per bin, the gap to the diagonal shaded);
- ``corruption_accuracy``: a heat map of accuracy per corruption (mean of its severities)
  and model, with each model's clean accuracy on the same images as the first row.

The last two need the robustness stages' outputs (``cnnbench.robustness``); metrics
without them draw neither.

Each model has one colour in every figure (``model_colours``): its key's CRC-32 picks a
slot of the 20-colour ``tab20`` palette, the next free slot when that one is taken by a
model listed before it in params.yaml. Colours come from the whole list, run or not yet,
so a model keeps its colour in every figure, and across revisions while the models before
it stay: adding a model at the end moves no other colour.

Run through the pipeline (``dvc repro plot``) or ``stages/plot.py --help``.
"""

from __future__ import annotations

import os
import textwrap
import zlib
from pathlib import Path

import matplotlib
import matplotlib.ticker
from matplotlib.colors import to_hex

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scienceplots  # noqa: E402, F401 - registers the "science" styles

from cnnbench.files import atomic_path  # noqa: E402
from cnnbench.report.results import (  # noqa: E402
    describe_run,
    load_history,
    load_metrics,
    load_reference,
    load_train_params,
    machine_label,
    read_reliability,
    split_by_results,
)

STYLE = ["science", "no-latex", "grid"]
DPI = 120  # every figure, with its caption, stays under 600 pixels wide
COMPARISON_SIZE = (4.2, 3.0)


def model_colours(models: list[str]) -> dict[str, tuple]:
    """One colour per model: the ``tab20`` slot of the key's CRC-32, or the next free one."""
    palette = matplotlib.colormaps["tab20"].colors
    colours, taken = {}, set()
    for model in models:
        slot = zlib.crc32(model.encode()) % len(palette)
        while slot in taken and len(taken) < len(palette):
            slot = (slot + 1) % len(palette)
        taken.add(slot)
        colours[model] = palette[slot]
    return colours


def _figure(subtitle: str, ncols: int = 1, figsize: tuple[float, float] = COMPARISON_SIZE,
            nrows: int = 1):
    """A figure with constrained layout and the run's description below its axes, wrapped
    to the figure's width (models trained on several machines make it long)."""
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, layout="constrained")
    fig.text(0.5, 0, subtitle, ha="center", va="top", fontsize=5.5, color="0.3", wrap=True)
    return fig, axes


def _save(fig: plt.Figure, folder: Path, stem: str) -> None:
    # No creation date: the same results give the same bytes, so a rerun leaves no diff in
    # git and `dvc plots diff` shows only real changes.
    fig.savefig(folder / f"{stem}.png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def _epoch_axis(ax: plt.Axes, epochs: pd.Series) -> None:
    ax.set_xlabel("Epoch")
    ax.set_xticks(sorted(epochs.unique()))


def plot_curves(history: pd.DataFrame, name: str, subtitle: str) -> plt.Figure:
    """Accuracy and loss per epoch, training against validation, for one model: one above
    the other, as wide as the comparison figures, so two revisions fit side by side."""
    fig, (acc, loss) = _figure(subtitle, nrows=2, figsize=(COMPARISON_SIZE[0], 4.4))
    for ax, metric, label in ((acc, "accuracy", "Accuracy"), (loss, "loss", "Loss")):
        ax.plot(history["epoch"], history[f"train.{metric}"], marker="o", label="Training")
        ax.plot(history["epoch"], history[f"val.{metric}"], marker="s", label="Validation")
        ax.set_ylabel(label)
        _epoch_axis(ax, history["epoch"])
        ax.legend()
    acc.set_ylim(0, 1)
    acc.set_title(f"{name}: accuracy")
    loss.set_title(f"{name}: loss")
    return fig


def plot_test_accuracy(metrics: pd.DataFrame, reference: dict, subtitle: str) -> plt.Figure:
    fig, ax = _figure(subtitle)
    y = range(len(metrics))
    ax.barh([i + 0.2 for i in y], metrics["test.accuracy"], height=0.4, label="cnnbench")
    seed = [reference["models"].get(m, {}).get("test", {}).get("accuracy", float("nan"))
            for m in metrics.index]
    ax.barh([i - 0.2 for i in y], seed, height=0.4, label="seed report")
    for i, value in zip(y, metrics["test.accuracy"], strict=True):
        ax.text(value + 0.01, i + 0.2, f"{value:.3f}", va="center", fontsize=6)
    ax.set_yticks(list(y), metrics["name"])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("Test accuracy")
    ax.set_title("Test accuracy per model")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=6)
    return fig


def plot_accuracy_against(metrics: pd.DataFrame, column: str, xlabel: str, title: str,
                          subtitle: str, colours: dict[str, tuple],
                          plain_ticks: bool = False,
                          machines: pd.Series | None = None) -> plt.Figure:
    """Test accuracy against ``column``, one panel per machine when ``machines`` (a label
    per model) names more than one: a time measured on one machine is never drawn on the
    same axis as another machine's."""
    groups = ([(None, metrics)] if machines is None or machines.nunique() < 2 else
              [(m, metrics.loc[machines[machines == m].index]) for m in machines.unique()])
    width, height = COMPARISON_SIZE
    # panels of several machines share little more than one chart's width, so that two
    # revisions side by side still fit a page (the axes' titles wrap to suit)
    fig, axes = _figure(subtitle, ncols=len(groups),
                        figsize=(width * min(len(groups), 1.15), height))
    for ax, (machine, rows) in zip(np.atleast_1d(axes), groups, strict=True):
        ax.scatter(rows[column], rows["test.accuracy"], zorder=3,
                   c=[colours[m] for m in rows.index])
        middle = rows["test.accuracy"].median()
        for _, row in rows.iterrows():  # the upper half labelled above, the rest below
            above = row["test.accuracy"] >= middle
            ax.annotate(row["name"], (row[column], row["test.accuracy"]), fontsize=6,
                        xytext=(4, 4 if above else -9), textcoords="offset points")
        ax.set_xscale("log")
        low, high = rows[column].min(), rows[column].max()
        if high < 4 * low:  # a narrow range: a factor of 2 either side, not sub-ticks
            ax.set_xlim(low / 2, high * 2)
        if plain_ticks:  # 2, 5, 10, 20 s rather than 2x10^0
            ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_ylim(0, 1)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("Test accuracy")
        ax.set_title(title if machine is None else
                     "\n".join([title, *textwrap.wrap(machine, 60 // len(groups))]),
                     fontsize=None if machine is None else 6)
    return fig


def plot_val_accuracy(history: pd.DataFrame, names: pd.Series, subtitle: str,
                      colours: dict[str, tuple]) -> plt.Figure:
    fig, ax = _figure(subtitle)
    for model, rows in history.groupby("model", sort=False):
        ax.plot(rows["epoch"], rows["val.accuracy"], marker="o", label=names[model],
                color=colours[model])
    _epoch_axis(ax, history["epoch"])
    ax.set_ylim(0, 1)
    ax.set_ylabel("Validation accuracy")
    ax.set_title("Validation accuracy per epoch")
    ax.legend(fontsize=6)
    return fig


#: The training curves written for ``dvc plots``: (file stem, history column, value name).
CURVES = (("val_accuracy", "val.accuracy", "accuracy"), ("val_loss", "val.loss", "loss"),
          ("train_accuracy", "train.accuracy", "accuracy"), ("train_loss", "train.loss", "loss"))


def write_curves(history: pd.DataFrame, names: pd.Series, colours: dict[str, tuple],
                 out_dir: str | os.PathLike, scored: pd.DataFrame | None = None) -> list[str]:
    """One CSV per training curve in ``out_dir`` (replaced as a whole): a row per model and
    epoch (``epoch``, ``model`` by display name, ``colour``, the model's colour in the
    figures, the value), in the params' model order, so that ``dvc plots`` charts every
    model in one chart, in its own colour, without dvc.yaml naming them; with ``scored``
    (metrics with robustness), ``corruption_accuracy.csv`` for the heat map."""
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        for stem, column, value in CURVES:
            rows = history[["epoch", "model", column]].rename(columns={column: value})
            rows.insert(2, "colour", rows["model"].map(lambda m: to_hex(colours[m])))
            rows["model"] = rows["model"].map(names)
            rows.to_csv(tmp / f"{stem}.csv", index=False, float_format="%.6g")
        if scored is not None:
            write_corruption_accuracy(scored, tmp / "corruption_accuracy.csv")
        written = sorted(p.name for p in tmp.iterdir())
    return written


def plot_reliability(bins: pd.DataFrame, name: str, ece: float, subtitle: str) -> plt.Figure:
    """One model's reliability diagram: accuracy per confidence bin against the diagonal."""
    fig, ax = _figure(subtitle, figsize=COMPARISON_SIZE)
    width = bins["high"] - bins["low"]
    centre = bins["low"] + width / 2
    filled = bins["count"] > 0
    ax.bar(centre[filled], bins["accuracy"][filled], width=width[filled], color="C0",
           edgecolor="white", linewidth=0.4, label="accuracy")
    ax.bar(centre[filled], (bins["confidence"] - bins["accuracy"])[filled],
           bottom=bins["accuracy"][filled], width=width[filled], color="C3", alpha=0.35,
           label="gap to confidence")
    ax.plot([0, 1], [0, 1], color="0.3", linestyle="--", linewidth=0.8, label="calibrated")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("Confidence")
    ax.set_ylabel("Accuracy")
    ax.set_title(f"{name}: reliability (ECE {ece:.3f})")
    ax.legend(fontsize=6, loc="upper left")
    return fig


def corruption_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per corruption (rows, mean of its severities) and model (columns)."""
    prefix = "robustness.corruption."
    columns = [c for c in metrics.columns if c.startswith(prefix)]
    table = metrics[columns].astype("float64").T
    table.index = [c.removeprefix(prefix) for c in columns]
    return table


def plot_corruption_heatmap(metrics: pd.DataFrame, subtitle: str) -> plt.Figure:
    """Accuracy per corruption and model, the clean accuracy of the same images on top."""
    table = corruption_table(metrics)
    clean = metrics["robustness.clean_accuracy"].astype("float64").to_frame("clean").T
    table = pd.concat([clean, table])
    fig, ax = _figure(subtitle, figsize=(COMPARISON_SIZE[0], 4.6))  # within the page width
    image = ax.imshow(table.to_numpy(), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for (row, col), value in np.ndenumerate(table.to_numpy()):
        ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=5.5,
                color="black" if value > 0.6 else "white")
    ax.set_xticks(range(len(metrics)), metrics["name"], rotation=30, ha="right")
    ax.set_yticks(range(len(table)), [i.replace("_", " ") for i in table.index])
    ax.axhline(0.5, color="white", linewidth=1.5)
    ax.grid(False)
    ax.minorticks_off()
    ax.set_title("Accuracy per corruption (mean of severities)")
    fig.colorbar(image, ax=ax, shrink=0.8, label="Accuracy")
    return fig


def write_corruption_accuracy(metrics: pd.DataFrame, path: Path) -> None:
    """The heat map's data for ``dvc plots``: a row per model and corruption."""
    table = corruption_table(metrics).rename(columns=metrics["name"])
    rows = table.reset_index(names="corruption").melt(
        id_vars="corruption", var_name="model", value_name="accuracy")
    rows[["model", "corruption", "accuracy"]].to_csv(path, index=False, float_format="%.6g")


def plot_all(models: list[str], metrics_dir: str | os.PathLike, logs_dir: str | os.PathLike,
             data_metrics: str | os.PathLike, reference_file: str | os.PathLike,
             out_dir: str | os.PathLike, curves_dir: str | os.PathLike | None = None,
             robustness_dir: str | os.PathLike | None = None) -> list[str]:
    """Write every figure into ``out_dir`` and, with ``curves_dir``, the training curves'
    (and the corruption heat map's) data for ``dvc plots`` into it (each folder replaced
    as a whole); return the figures' file names. Models without metrics yet are left out;
    reliability diagrams are drawn from ``robustness_dir``'s ``<model>_reliability.csv``."""
    colours = model_colours(models)
    models, _ = split_by_results(models, metrics_dir)
    subtitle = describe_run(models, logs_dir, data_metrics)
    metrics = load_metrics(models, metrics_dir)
    history = load_history(models, logs_dir)
    reference = load_reference(reference_file)
    machines = pd.Series({m: machine_label(load_train_params(logs_dir, m).get("machine") or {})
                          for m in models}, dtype="object")
    with plt.style.context(STYLE), atomic_path(out_dir) as tmp:
        tmp.mkdir()
        for model in models:
            rows = history[history["model"] == model]
            _save(plot_curves(rows, metrics.loc[model, "name"], subtitle), tmp,
                  f"{model}_curves")
        _save(plot_test_accuracy(metrics, reference, subtitle), tmp, "test_accuracy")
        _save(plot_accuracy_against(metrics, "params.total", "Parameters (log scale)",
                                    "Test accuracy against model size", subtitle, colours),
              tmp, "accuracy_vs_params")
        _save(plot_accuracy_against(metrics, "time.train_s",
                                    "Training wall time, s (log scale)",
                                    "Test accuracy against training time", subtitle,
                                    colours, plain_ticks=True, machines=machines),
              tmp, "accuracy_vs_time")
        counted = metrics.dropna(subset=["flops.macs"]) if "flops.macs" in metrics else ()
        if len(counted):  # metrics written before MACs were counted have none
            _save(plot_accuracy_against(counted, "flops.macs",
                                        "Forward multiply-accumulates per image (log scale)",
                                        "Test accuracy against compute", subtitle, colours),
                  tmp, "accuracy_vs_macs")
        _save(plot_val_accuracy(history, metrics["name"], subtitle, colours), tmp,
              "val_accuracy")
        scored = (metrics.dropna(subset=["robustness.mean_corruption_accuracy"])
                  if "robustness.mean_corruption_accuracy" in metrics else metrics.iloc[:0])
        if len(scored):
            _save(plot_corruption_heatmap(scored, subtitle), tmp, "corruption_accuracy")
        for model in scored.index if robustness_dir is not None else ():
            bins = read_reliability(Path(robustness_dir) / f"{model}_reliability.csv")
            _save(plot_reliability(bins, metrics.loc[model, "name"],
                                   metrics.loc[model, "calibration.ece"], subtitle), tmp,
                  f"{model}_reliability")
        written = sorted(p.name for p in tmp.iterdir())
    if curves_dir is not None:
        write_curves(history, metrics["name"], colours, curves_dir,
                     scored if len(scored) else None)
    return written
