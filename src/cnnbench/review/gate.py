"""Stale-results gate: fail when the committed results no longer match the code and params.

    cnnbench gate

Lists each stage ``dvc status`` says would rerun, with the reasons, then the stages
downstream of them, and exits 1. Stages stale only by comments, docstrings or formatting
are named apart, with the fix (``cnnbench refresh``). Absent files (a clone without ``dvc
pull``) are no change. Warns, one line per model and without failing, of committed seed
repeats that are no noise of their main run (``cnnbench.report.provenance``).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from cnnbench import runner
from cnnbench.report.provenance import left_out
from cnnbench.review.paths import pipeline_paths
from cnnbench.review.project import downstream, stale_stages, status
from cnnbench.review.refresh import harmless
from cnnbench.review.runs import side_runs

SHOWN = 4  # reasons listed per stage; the rest are counted
#: The gate's verdict on stages that ``cnnbench refresh`` can record.
COSMETIC = ("stale only by edits that cannot change any output (comments, docstrings, "
            "formatting)")


def report(stale: dict[str, list[str]], also: list[str]) -> str:
    """Markdown lines saying which stages are stale and why (empty when none is)."""
    if not stale:
        return ""
    lines = [f"- `{stage}`: {', '.join(reasons[:SHOWN])}"
             + (f" and {len(reasons) - SHOWN} more" if len(reasons) > SHOWN else "")
             for stage, reasons in stale.items()]
    if also:
        lines.append(f"- and downstream: {', '.join(f'`{s}`' for s in also)}")
    return "\n".join(lines)


def check() -> tuple[dict[str, list[str]], dict[str, list[str]], list[str]]:
    """The current project's stale stages that ``dvc repro`` must rerun, with the reasons;
    those stale only by edits that cannot change any output, with their changed files; and
    the stages downstream of the first (where a stage of the second, which reruns anyway,
    is listed instead)."""
    found = status()
    stale = stale_stages(found)
    cosmetic = harmless(found) if stale else {}
    rerun = {stage: reasons for stage, reasons in stale.items() if stage not in cosmetic}
    also = downstream(list(rerun)) if rerun else []
    cosmetic = {stage: files for stage, files in cosmetic.items() if stage not in also}
    return rerun, cosmetic, also


def stale_repeats(params: str | Path = "params.yaml") -> list[str]:
    """One line per model of ``params`` whose committed seed repeats are not all noise of
    its main run, saying why and what refreshes them."""
    models = list((yaml.safe_load(Path(params).read_text()) or {}).get("models") or {})
    runs = side_runs(None, models, pipeline_paths())
    return ["; ".join(left_out(model, found.left_out)) for model, found in runs.items()
            if found.left_out]


def main(argv: list[str] | None = None) -> None:
    parser = runner.parser(__doc__, prog="cnnbench gate")
    args = parser.parse_args(argv)
    for line in stale_repeats(args.params):
        print(f"gate: warning: {line}")
    stale, cosmetic, also = check()
    if not stale and not cosmetic:
        print("gate: results are current (dvc.lock matches the code and params)")
        return
    if stale:
        print("gate: the committed results do not match the code and params; "
              "run `dvc repro` and commit dvc.lock and its outputs. Stale stages:")
        print(report(stale, also))
    if cosmetic:
        print(f"gate: {COSMETIC}: run `cnnbench refresh` and commit dvc.lock"
              + (" (no rerun needed for these)" if stale else "") + ". Stages:")
        print(report(cosmetic, []))
    raise SystemExit(1)

