"""Compare the working tree's results with a base revision, in Markdown a reviewer can read.

    cnnbench compare --base main [--out comparison.md]

Prints (and with ``--out`` writes, cut to fit a pull-request comment) the changes beyond
run-to-run noise, the gate's verdict, each model's metrics (robustness and calibration
among them) marked against noise, the params and the data that changed. The base is read
from git: nothing runs or is pulled. docs/guide/review.md shows and explains it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml
from tabulate import tabulate

from cnnbench import runner
from cnnbench.errors import CnnbenchError
from cnnbench.files import atomic_path
from cnnbench.models import display_name
from cnnbench.report.noise import Verdict, format_change, seeds_to_resolve, signed_significant
from cnnbench.report.provenance import left_out
from cnnbench.review import gate
from cnnbench.review.project import NEEDED, dvc, model_names, pipeline_paths, read, resolve
from cnnbench.review.runs import ModelRuns, get, side_runs, verdict

LIMIT = 65536  # GitHub's maximum comment body, in characters
CUT = ("\n---\n**Truncated:** this comparison is longer than a GitHub comment allows; the "
       "`review` artifact of this workflow run has all of it.\n")
#: {key in a model's metrics JSON: (label, key in the seed report or None, decimals)}
ROWS = {"test.accuracy": ("test accuracy", "test.accuracy", 4),
        "test.loss": ("test loss", "test.loss", 4),
        "train.accuracy": ("train accuracy, last epoch", "train.accuracy", 4),
        "time.epoch_mean_s": ("seconds per epoch", "epoch_s", 1),
        "throughput.infer_img_s": ("inference images/s", None, 0),
        "robustness.mean_corruption_accuracy": ("mean corruption accuracy", None, 4),
        "robustness.relative": ("relative robustness", None, 4),
        "calibration.ece": ("calibration ECE", None, 4),
        "calibration.brier": ("Brier score", None, 4)}
MISSING = "–"
TIMED = "time.epoch_mean_s"  # compared only between runs of one machine
POWER = 0.8  # of ``seeds_to_resolve``, as the comment states it
#: The comparison's inputs as options, each defaulting to its var in dvc.yaml.
INPUTS = {"--metrics-dir": "metrics", "--logs-dir": "logs", "--data-summary": "data_summary",
          "--reference": "reference", "--repeats-dir": "repeats"}


def seed_value(reference: dict, model: str, key: str | None):
    """The seed report's number for a row (its mean epoch time for seconds per epoch)."""
    value = get(reference.get("models", {}).get(model), key) if key else None
    return sum(value) / len(value) if isinstance(value, list) and value else value


def _fmt(value, decimals: int, sign: str = "") -> str:
    return MISSING if value is None else f"{value:{sign},.{decimals}f}"


def noise_verdicts(models: list[str], base: dict[str, ModelRuns], head: dict[str, ModelRuns]
                   ) -> dict[tuple[str, str], Verdict]:
    """``{(model, metrics key): Verdict}`` of every row with a change to judge."""
    found = {(m, key): verdict(base[m], head[m], key) for m in models for key in ROWS
             if key != TIMED or base[m].machine == head[m].machine}
    return {pair: judged for pair, judged in found.items() if judged is not None}


def _change_cell(change, decimals: int, judged: Verdict | None) -> str:
    if change is None:
        return MISSING
    if judged is None or judged.beyond is None:  # no repeats: the plain number
        return _fmt(change, decimals, "+") if change else "="
    return format_change(change, judged, decimals)


def metrics_table(models: list[str], base: dict[str, ModelRuns], head: dict[str, ModelRuns],
                  reference: dict, verdicts: dict[tuple[str, str], Verdict] | None = None) -> str:
    """One row per model and metric: base, working tree, change (marked by ``verdicts``),
    seed report; timings of two machines get no change."""
    rows = []
    for model in models:
        old_machine, new_machine = base[model].machine, head[model].machine
        for key, (label, seed_key, decimals) in ROWS.items():
            old, new = get(base[model].metrics, key), get(head[model].metrics, key)
            change = new - old if old is not None and new is not None else None
            cells = [_fmt(old, decimals), _fmt(new, decimals)]
            if key == TIMED and old_machine != new_machine and None not in (old, new):
                rows.append(["", label, *cells, "other machine", MISSING])
                continue
            if key == TIMED and (new_machine or {}).get("accelerator", "cpu") != "cpu":
                seed_key = None
            rows.append([display_name(model) if key == next(iter(ROWS)) else "", label, *cells,
                         _change_cell(change, decimals, (verdicts or {}).get((model, key))),
                         _fmt(seed_value(reference, model, seed_key), decimals)])
    return tabulate(rows, headers=["model", "metric", "base", "PR", "change", "seed report"],
                    tablefmt="github", disable_numparse=True, colalign=("left", "left"))


def _named(model: str, key: str) -> str:
    return f"{display_name(model)} {ROWS[key][0]}"


def noise_headline(verdicts: dict[tuple[str, str], Verdict]) -> list[str]:
    """The comment's first lines: the changes beyond noise, the test-accuracy changes that
    no repeats can judge (so a model without like repeats never reads as noise), and how
    many are within noise or unknown."""
    def listed(found: list) -> str:
        return ", ".join(f"{_named(m, k)} {signed_significant(v.difference)}"
                         for m, k, v in found) + "."

    beyond = [(m, k, v) for (m, k), v in verdicts.items() if v.beyond]
    within = sum(1 for v in verdicts.values() if v.beyond is False)
    unknown = sum(1 for v in verdicts.values() if v.beyond is None)
    unjudged = [(m, k, v) for (m, k), v in verdicts.items()
                if v.beyond is None and k == "test.accuracy" and v.difference]
    if beyond:
        first = (f"{len(beyond)} change{'s' if len(beyond) > 1 else ''} beyond run-to-run "
                 "noise: " + listed(beyond))
    elif within:
        first = ("No change beyond run-to-run noise among those that seed repeats can judge."
                 if unjudged else "No change beyond run-to-run noise.")
    else:
        return ["No repeats: noise unknown, so no change can be told from run-to-run noise."]
    counts = [f"{within} within noise (`~`)"] if within else []
    if unknown:
        counts.append(f"{unknown} with noise unknown (too few seed repeats)")
    untold = ["Not judged, no seed repeats of the same code, params, data and numerics: "
              + listed(unjudged)] if unjudged else []
    return [first, *untold, *([f"{'; '.join(counts)}."] if counts else [])]


def resolve_lines(verdicts: dict[tuple[str, str], Verdict]) -> list[str]:
    """For each nonzero change within noise, the seeds per side that would resolve it."""
    lines, level = [], 0.95
    for (model, key), judged in verdicts.items():
        seeds = seeds_to_resolve(judged.difference, judged.spread, power=POWER,
                                 level=judged.level, paired=judged.kind == "paired")
        if judged.beyond is not False or seeds is None:
            continue
        level = judged.level
        cell = format_change(judged.difference, judged, ROWS[key][2])
        lines.append(f"- {_named(model, key)} `{cell}`: {seeds} seeds per side "
                     f"(now {judged.n_base} and {judged.n_new})")
    if not lines:
        return []
    return [f"Seeds per side that would resolve each change within noise at {POWER * 100:g} % "
            f"power ({level * 100:g} % level; a lower bound). More seeds: `cnnbench repeats`.",
            "", *lines, ""]


def noise_note(base_runs: dict[str, ModelRuns], head_runs: dict[str, ModelRuns]) -> str:
    """How the changes are marked, and the repeats left out of the noise, with why."""
    text = ("`~`: within run-to-run noise; `(noise ±x)`: beyond it, x the half-width of the "
            "95 % noise band; a plain change: no seed repeats, noise unknown. The noise comes "
            "from the seed repeats (`cnnbench repeats`) of the same params, data, code and "
            "numerics as each side's main run.")
    sides: dict[str, list[str]] = {}
    for side, runs in (("base", base_runs), ("pull request", head_runs)):
        for model, found in runs.items():
            for line in left_out(model, found.left_out):
                sides.setdefault(line, []).append(side)
    notes = [f"- Not counted ({' and '.join(where)}): {line}." for line, where in sides.items()]
    return "\n".join([text, "", *notes]) if notes else text


def methods(verdicts: dict[tuple[str, str], Verdict]) -> list[str]:
    """How each judged change was decided, folded away (GitHub renders ``<details>``)."""
    judged = [f"- {_named(m, k)}: {v.method}" for (m, k), v in verdicts.items()
              if v.beyond is not None]
    if not judged:
        return []
    return ["<details><summary>How each change was judged</summary>", "", *judged, "",
            "</details>", ""]


def params_table(base: str) -> str:
    """``dvc params diff`` as a table of key, base and PR values."""
    with dvc("params diff") as repo:
        diff = repo.params.diff(a_rev=base).get("diff", {})
    rows = [[f"`{key}`", json.dumps(change.get("old")), json.dumps(change.get("new"))]
            for changes in diff.values() for key, change in changes.items()]
    if not rows:
        return "No params changed."
    return tabulate(rows, headers=["param", "base", "PR"], tablefmt="github",
                    disable_numparse=True)


def _data_text(rev: str | None, summary_path: str) -> str:
    data = read(rev, summary_path)
    try:
        data = json.loads(data)["data"] if data is not None else None
    except ValueError:
        raise CnnbenchError(f"{summary_path} at {rev or 'the working tree'}: not valid "
                            "JSON") from None
    if data is None:
        return "no data summary"
    source = data.get("source") or {}
    digest = source.get("sha256") or "no sha256"
    return (f"{source.get('name', 'unknown source')}, {data['train']['count']:,} train / "
            f"{data['test']['count']:,} test images, sha256 `{digest[:12]}`")


def comparison(base: str, paths: dict[str, str], params_path: Path,
               details_url: str | None = None) -> str:
    """The whole comparison as Markdown; ``paths`` as ``pipeline_paths`` gives them."""
    commit = resolve(base)
    models = list(dict.fromkeys(model_names(None, params_path) + model_names(commit, params_path)))
    reference_path = Path(paths["reference"])
    reference = yaml.safe_load(reference_path.read_text()) if reference_path.is_file() else {}
    base_runs, head_runs = side_runs(commit, models, paths), side_runs(None, models, paths)
    verdicts = noise_verdicts(models, base_runs, head_runs)
    new, before = (_data_text(rev, paths["data_summary"]) for rev in (None, commit))
    parts = [f"## cnnbench: this pull request against `{base}` ({commit[:7]})", "",
             *noise_headline(verdicts), "", gate.markdown(), "", "### Results", "",
             metrics_table(models, base_runs, head_runs, reference, verdicts), "",
             noise_note(base_runs, head_runs), "", *resolve_lines(verdicts), *methods(verdicts),
             f"Seed report: `{reference_path}` ({reference.get('machine', 'machine unknown')}).",
             "", "### Params", "", params_table(base), "",
             f"**Data:** unchanged ({new})." if new == before
             else f"**Data changed:** {before} → {new}.", ""]
    if details_url:
        parts += [f"Plots of both revisions (`dvc plots diff`) and the full review: the "
                  f"`review` artifact of [this run]({details_url}).", ""]
    return "\n".join(parts)


def arguments(doc: str, prog: str, paths: dict[str, str] | None = None
              ) -> argparse.ArgumentParser:
    """The options of ``cnnbench compare`` and ``cnnbench review``: ``--base``, ``--params``,
    the comparison's inputs and ``paths`` (``{option: var}``), each path defaulting to its
    var in dvc.yaml."""
    parser = runner.parser(doc, prog=prog)
    parser.add_argument("--base", default="main", help="git revision to compare against "
                        "(default: %(default)s)")
    for option, key in {**INPUTS, **(paths or {})}.items():
        parser.add_argument(option, dest=key, default=None, metavar="PATH",
                            help=f"{NEEDED[key]} (default: dvc.yaml's var `{key}`)")
    parser.add_argument("--details-url", default=None,
                        help="link to where the plots are (the workflow run)")
    return parser


def from_arguments(args: argparse.Namespace) -> tuple[dict[str, str], str]:
    """dvc.yaml's paths, each replaced by its option of ``arguments``, and the comparison."""
    paths = {key: getattr(args, key, None) or path for key, path in pipeline_paths().items()}
    return paths, comparison(args.base, paths, Path(args.params), args.details_url)


def fit(text: str, limit: int = LIMIT) -> str:
    """``text``, cut at a line end with a note when over ``limit`` characters."""
    if len(text) <= limit:
        return text
    cut = text[:limit - len(CUT)]
    return cut[:cut.rfind("\n") + 1] + CUT


def main(argv: list[str] | None = None) -> None:
    parser = arguments(__doc__, "cnnbench compare")
    parser.add_argument("--out", default=None, help="also write the Markdown to this file, "
                        f"cut to fit a pull-request comment ({LIMIT:,} characters)")
    args = parser.parse_args(argv)
    text = from_arguments(args)[1]
    if args.out:
        with atomic_path(args.out, suffix=".md") as tmp:
            Path(tmp).write_text(fit(text))
    print(text)
