"""The seed report's three tables, regenerated from a run, beside the seed's own numbers.

``summarise`` writes a Markdown summary (Table 1: last-epoch training accuracy and loss;
Table 2: test accuracy and loss; test accuracy over seeds, the main run and its seed
repeats (``cnnbench.review.repeats``), as mean ± std with the range where one more run would land
and the seed's single run against it (``~`` inside, the band outside, as
``cnnbench.report.noise.format_change`` marks a change); Table 3: seconds per epoch; parameter
counts, forward multiply-accumulates per image (``cnnbench.models.macs``) and throughput;
robustness to corrupted images and calibration (``cnnbench.robustness``), when the metrics
have them; the ranking line the seed ends on). Models the seed report lacks show "–" in
its columns and are left out of its ranking line, a CSV with one row per model
(every number of the tables) plus a CSV of epoch times (one row per model and epoch).

Run through the pipeline (``dvc repro summarise``) or ``stages/summarise.py --help``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from cnnbench.files import atomic_path
from cnnbench.models import display_name
from cnnbench.report.noise import compare_runs, format_change
from cnnbench.report.provenance import machine_label
from cnnbench.report.results import (describe_run, load_history, load_metrics, load_reference,
                                     load_repeats, load_train_params, main_runs,
                                     run_protocols, split_by_results)
from cnnbench.report.statistics import over_seeds


def ranking(scores: pd.Series, digits: int = 4) -> str:
    """``ResNet18 > Inception10 > ...`` from scores indexed by model; ties (equal to
    ``digits`` decimals) are joined by ``=``."""
    order = scores.round(digits).sort_values(ascending=False, kind="stable")
    text = ""
    for i, (model, score) in enumerate(order.items()):
        if i:
            text += " = " if score == order.iloc[i - 1] else " > "
        text += display_name(model)
    return text


def _seed_column(reference: dict, models: list[str], split: str, key: str) -> pd.Series:
    values = {m: reference["models"].get(m, {}).get(split, {}).get(key) for m in models}
    return pd.Series(values, dtype="float64")


def build_tables(models: list[str], metrics_dir: str | os.PathLike,
                 logs_dir: str | os.PathLike, reference_file: str | os.PathLike,
                 data_metrics: str | os.PathLike, repeats_dir: str | os.PathLike | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The per-model summary table, the per-epoch time table, and the seed repeats left
    out of the over-seeds columns (one line each, saying why)."""
    metrics = load_metrics(models, metrics_dir)
    history = load_history(models, logs_dir)
    reference = load_reference(reference_file)
    table = pd.DataFrame({"name": metrics["name"]})
    for split in ("train", "test"):
        for key in ("accuracy", "loss"):
            ours = metrics[f"{split}.{key}"].astype("float64")
            seed = _seed_column(reference, models, split, key)
            table[f"{split}.{key}"] = ours
            table[f"seed.{split}.{key}"] = seed
            table[f"diff.{split}.{key}"] = (ours - seed).round(4)
    table["epochs"] = metrics["train.epochs"]
    table["time.epoch_mean_s"] = metrics["time.epoch_mean_s"]
    table["seed.time.epoch_mean_s"] = pd.Series(
        {m: sum(r["epoch_s"]) / len(r["epoch_s"])
         for m in models if (r := reference["models"].get(m))}, dtype="float64")
    table["time.train_s"] = metrics["time.train_s"]
    for key in ("params.total", "params.trainable", "params.non_trainable",
                "throughput.train_img_s", "throughput.infer_img_s"):
        table[key] = metrics[key]
    table["flops.macs"] = metrics.get("flops.macs")  # absent in metrics from before FLOPs
    for key in ROBUSTNESS_KEYS:  # absent in metrics from before robustness was scored
        table[key] = metrics.get(key)
    corruptions = [c for c in metrics.columns if c.startswith("robustness.corruption.")]
    if corruptions:  # the corruption each model loses most to
        worst = metrics[corruptions].astype("float64").dropna(how="all").idxmin(axis=1)
        table["robustness.worst"] = worst.str.removeprefix("robustness.corruption.")
    logged = {m: load_train_params(logs_dir, m).get("machine") or {} for m in metrics.index}
    main_machines = {m: machine_label(machine) for m, machine in logged.items()}
    table["machine"] = pd.Series(main_machines, dtype="object")
    table["on_cpu"] = pd.Series({m: machine.get("accelerator", "cpu") == "cpu"
                                 for m, machine in logged.items()}, dtype="bool")
    seeds, left_out = over_seeds(metrics, load_repeats(models, repeats_dir),
                                 main_runs(models, logs_dir, data_metrics), main_machines)
    table = table.join(seeds)
    table["diff.test.accuracy.mean"] = (table["test.accuracy.mean"]
                                        - table["seed.test.accuracy"]).round(4)
    epochs = history[["model", "epoch", "time.epoch_s"]].rename(
        columns={"time.epoch_s": "seconds"})
    epochs["seed_seconds"] = [
        (reference["models"].get(m, {}).get("epoch_s") or [None] * e)[e - 1]
        if e <= len(reference["models"].get(m, {}).get("epoch_s") or []) else None
        for m, e in zip(epochs["model"], epochs["epoch"], strict=True)]
    table.index.name = "model"
    return table, epochs, left_out


#: The robustness and calibration numbers of the summary (``cnnbench.robustness``).
ROBUSTNESS_KEYS = ("robustness.clean_accuracy", "robustness.mean_corruption_accuracy",
                   "robustness.relative", "robustness.images", "calibration.ece",
                   "calibration.brier", "calibration.nll")


def _robustness_tables(table: pd.DataFrame) -> list[str]:
    """The robustness and calibration tables as Markdown lines; none for metrics without."""
    scored = table.get("robustness.mean_corruption_accuracy")
    if scored is None or scored.isna().all():
        return []
    names, images = table["name"], table["robustness.images"].dropna()
    robust = pd.DataFrame({
        "Net": names,
        "clean acc (subset)": table["robustness.clean_accuracy"].map(_num),
        "mean corruption acc": table["robustness.mean_corruption_accuracy"].map(_num),
        "relative": table["robustness.relative"].map(_num),
        "worst corruption": table.get("robustness.worst",
                                      pd.Series(None, index=table.index)).fillna("–"),
    })
    calibrated = pd.DataFrame({
        "Net": names,
        "test acc": table["test.accuracy"].map(_num),
        "ECE": table["calibration.ece"].map(_num),
        "Brier": table["calibration.brier"].map(_num),
        "NLL": table["calibration.nll"].map(_num),
    })
    return [
        "## Robustness to corrupted images",
        "",
        f"Accuracy on {int(images.max()):,} test images under CIFAR-10-C-style corruptions,"
        " the mean over every corruption and severity; relative = mean corruption accuracy"
        " / clean accuracy on the same images; heat map: `corruption_accuracy.png`"
        " (docs/guide/robustness.md).",
        "", robust.to_markdown(index=False, disable_numparse=True), "",
        "## Calibration (clean test split)",
        "",
        "ECE: expected calibration error, 15 equal-width confidence bins; Brier: mean squared"
        " distance of the probabilities from the one-hot label (0-2); NLL: mean negative"
        " log-likelihood of the true class, which is Table 2's test loss without the weight"
        " penalty Keras adds to it (such as ResNet18's L2). Lower is better for all three;"
        " reliability diagrams: `<model>_reliability.png`.",
        "", calibrated.to_markdown(index=False, disable_numparse=True), "",
    ]


def _against_noise(difference, runs, seed) -> str:
    """Our mean minus the seed's single run, marked against where one more run of ours
    would land: ``~ +0.0123`` inside, ``-0.1000 (noise ±0.0500)`` outside, plain with one
    run of ours (noise unknown)."""
    if pd.isna(difference) or pd.isna(seed) or not isinstance(runs, dict) or not runs:
        return _signed(difference)
    return format_change(difference, compare_runs(float(seed), runs))


def _num(value, digits: int = 4) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def render_markdown(table: pd.DataFrame, epochs: pd.DataFrame, run: dict,
                    reference: dict, left_out: list[str] = (),
                    not_yet: list[str] = ()) -> str:
    """summary.md: the seed's three tables with our numbers, the seed's and the difference."""
    names = table["name"]

    def compare(split: str) -> pd.DataFrame:
        return pd.DataFrame({
            "Net": names,
            "acc": table[f"{split}.accuracy"].map(_num),
            "seed acc": table[f"seed.{split}.accuracy"].map(_num),
            "Δ acc": table[f"diff.{split}.accuracy"].map(_signed),
            "loss": table[f"{split}.loss"].map(_num),
            "seed loss": table[f"seed.{split}.loss"].map(_num),
            "Δ loss": table[f"diff.{split}.loss"].map(_signed),
        })

    seeds = pd.DataFrame({
        "Net": names,
        "seeds": table["seeds"],
        "n": table["n"].map(str),
        "mean acc": table["test.accuracy.mean"].map(_num),
        "std": table["test.accuracy.std"].map(_num),
        "one more run, 95 %": [
            "–" if pd.isna(low) else f"{low:.4f}–{high:.4f}"
            for low, high in zip(table["test.accuracy.one_run_low"],
                                 table["test.accuracy.one_run_high"], strict=True)],
        "seed acc (one run)": table["seed.test.accuracy"].map(_num),
        "Δ mean": [_against_noise(diff, runs, seed) for diff, runs, seed in zip(
            table["diff.test.accuracy.mean"],
            table.get("test.accuracy.runs", pd.Series(None, index=table.index)),
            table["seed.test.accuracy"], strict=True)],
    })
    times = _epoch_tables(table, epochs, reference)
    sizes = pd.DataFrame({
        "Net": names,
        "params": table["params.total"].map(lambda v: f"{int(v):,}"),
        "trainable": table["params.trainable"].map(lambda v: f"{int(v):,}"),
        "non-trainable": table["params.non_trainable"].map(lambda v: f"{int(v):,}"),
        "MMACs / image": pd.Series(table.get("flops.macs"), index=table.index,  # may be absent
                                   dtype="float64").map(lambda v: _num(v / 1e6, 2)),
        "train img/s": table["throughput.train_img_s"].map(lambda v: _num(v, 1)),
        "inference img/s": table["throughput.infer_img_s"].map(lambda v: _num(v, 1)),
    })
    seed_rank = " > ".join(table["name"].get(m, m) for m in reference.get("ranking", [])
                           if m in table.index)
    lines = [
        "# cnnbench summary",
        "",
        f"Run: {run['description']}.",
        *([f"Protocol: {'; '.join(run['protocols'])} (`data.validation`,"
           " docs/guide/experiments.md)."]
          if run.get("protocols") else []),
        *([f"Data: {run['source']['name']}, sha256 `{run['source']['sha256']}`."]
          if run.get("source", {}).get("sha256") else []),
        *([f"Not run yet: {', '.join(display_name(m) for m in not_yet)} (no metrics;"
           f" `dvc repro evaluate@{not_yet[0]}` trains and evaluates one)."] if not_yet else []),
        f"Seed report: {reference['source']}; {reference['machine']}.",
        "Δ = ours − seed.",
        "",
        "## Table 1: training set, last epoch (running averages, as Keras reports them)",
        "", compare("train").to_markdown(index=False, disable_numparse=True), "",
        "## Table 2: test set",
        "", compare("test").to_markdown(index=False, disable_numparse=True), "",
        "### Test accuracy over seeds",
        "",
        "The main run and its seed repeats of the same params, data, code and numerics"
        " (`cnnbench repeats`; docs/guide/review.md); std is the sample standard deviation (n − 1). \"One more"
        " run, 95 %\" is where a further run of ours would land 95 % of the time (Student's t"
        " prediction interval from the n runs, normal spread assumed): the seed's number is"
        " one run, so a seed value inside it is within our run-to-run noise, and Δ mean"
        " (ours − seed) reads `~ +0.0123`; outside it, `-0.1000 (noise ±0.0500)`, the band"
        " being the range's half-width; with one run of ours, plain (noise unknown). With few"
        " runs the range is wide; it can show that a gap is the size of the noise, not that"
        " no systematic gap exists.",
        "", seeds.to_markdown(index=False, disable_numparse=True), "",
        *(["Where a model's runs used more than one machine (the same seed draws other "
           "weights on another backend):", ""] if table["machines"].astype(bool).any() else []),
        *(f"- {names[m]}: {text}" for m, text in table["machines"].items() if text),
        *([""] if table["machines"].astype(bool).any() else []),
        *(f"- left out: {line}" for line in left_out), *([""] if left_out else []),
        "## Table 3: seconds per epoch (validation pass included)",
        "",
        "One table per machine: times of different machines are not comparable. The seed"
        " report's CPU times stand beside runs on a CPU only.",
        "", *times,
        "## Size and throughput",
        "", sizes.to_markdown(index=False, disable_numparse=True), "",
        "MMACs: millions of forward multiply-accumulates per image, counted from the"
        " convolution and dense layers (biases, normalisation, activations and pooling"
        " left out); FLOPs are about twice as many.", "",
        *_robustness_tables(table),
        "## Ranking by test accuracy",
        "",
        f"- ours: {ranking(table['test.accuracy'])}",
        f"- ours, mean over seeds: {ranking(table['test.accuracy.mean'])}",
        f"- seed: {seed_rank}",
        "",
    ]
    return "\n".join(lines)


def _epoch_tables(table: pd.DataFrame, epochs: pd.DataFrame, reference: dict) -> list[str]:
    """Table 3 as Markdown lines: one table per machine the models trained on, with the
    seed's mean beside models that trained on a CPU, as the seed did."""
    per_epoch = epochs.pivot(index="model", columns="epoch", values="seconds").reindex(table.index)
    lines = []
    for machine, rows in table.groupby("machine", sort=False):
        times = pd.DataFrame({"Net": rows["name"]})
        for epoch in per_epoch.columns:
            times[f"Epoch {epoch}"] = per_epoch.loc[rows.index, epoch].map(lambda v: _num(v, 1))
        times["mean"] = rows["time.epoch_mean_s"].map(lambda v: _num(v, 1))
        if rows["on_cpu"].all():
            times[f"seed mean ({reference['machine']})"] = rows["seed.time.epoch_mean_s"].map(
                lambda v: _num(v, 1))
        lines += [f"**{machine}**", "", times.to_markdown(index=False, disable_numparse=True),
                  ""]
    return lines


def _signed(value) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:+.4f}"


def summarise(models: list[str], metrics_dir: str | os.PathLike, logs_dir: str | os.PathLike,
              data_metrics: str | os.PathLike, reference_file: str | os.PathLike,
              out_md: str | os.PathLike, out_csv: str | os.PathLike,
              out_epochs: str | os.PathLike,
              repeats_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Write the Markdown summary, the per-model CSV and the per-epoch CSV.

    Models without metrics yet are left out of the tables and named as not run yet."""
    models, not_yet = split_by_results(models, metrics_dir)
    table, epochs, left_out = build_tables(models, metrics_dir, logs_dir, reference_file,
                                           data_metrics, repeats_dir)
    run = {"description": describe_run(models, logs_dir, data_metrics),
           "protocols": run_protocols(models, logs_dir),
           "source": json.loads(Path(data_metrics).read_text())["data"].get("source") or {}}
    markdown = render_markdown(table, epochs, run, load_reference(reference_file), left_out,
                               not_yet)
    with atomic_path(out_md) as tmp:
        tmp.write_text(markdown)
    with atomic_path(out_csv) as tmp:
        table.drop(columns=["test.accuracy.runs"]).to_csv(tmp)
    with atomic_path(out_epochs) as tmp:
        epochs.to_csv(tmp, index=False)
    return table
