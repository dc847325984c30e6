"""Stale-results gate: fail when the committed results no longer match the code and params.

    cnnbench gate

Lists each stage ``dvc status`` says would rerun, with the reasons and the stages
downstream, and exits 1; stages stale only by comments, docstrings or formatting are named
apart, with the fix (``cnnbench refresh``). Absent files (no ``dvc pull``) are no change.
Warns, without failing, of committed seed repeats that are no noise of their main run.
"""

from __future__ import annotations

from pathlib import Path

from cnnbench import runner
from cnnbench.report.provenance import left_out
from cnnbench.review.project import (downstream, model_names, pipeline_paths, stale_stages,
                                     status)
from cnnbench.review.refresh import harmless
from cnnbench.review.runs import side_runs

SHOWN = 4  # reasons listed per stage; the rest are counted
#: The gate's verdict on stages that ``cnnbench refresh`` can record.
COSMETIC = ("stale only by edits that cannot change any output (comments, docstrings, "
            "formatting)")


def report(stale: dict[str, list[str]], also: list[str]) -> str:
    """Markdown lines saying which stages are stale and why."""
    lines = [f"- `{stage}`: {', '.join(reasons[:SHOWN])}"
             + (f" and {len(reasons) - SHOWN} more" if len(reasons) > SHOWN else "")
             for stage, reasons in stale.items()]
    if also:
        lines.append(f"- and downstream: {', '.join(f'`{s}`' for s in also)}")
    return "\n".join(lines)


def check() -> tuple[dict[str, list[str]], dict[str, list[str]], list[str]]:
    """The stale stages ``dvc repro`` must rerun, with reasons; those ``cnnbench refresh``
    can record, with their changed files; and the stages downstream of the first."""
    found = status()
    stale = stale_stages(found)
    cosmetic = harmless(found) if stale else {}
    rerun = {stage: reasons for stage, reasons in stale.items() if stage not in cosmetic}
    also = downstream(list(rerun)) if rerun else []
    cosmetic = {stage: files for stage, files in cosmetic.items() if stage not in also}
    return rerun, cosmetic, also


def markdown() -> str:
    """The gate's verdict as Markdown, for the pull-request comment."""
    stale, cosmetic, also = check()
    if not stale and not cosmetic:
        return "✅ **Results are current:** `dvc.lock` matches the code and params."
    parts = []
    if stale:
        parts.append("⚠️ **Stale results:** these stages would rerun, so the numbers below "
                     "are not what this code and these params produce. Run `dvc repro` and "
                     "commit `dvc.lock` and its outputs.\n\n" + report(stale, also))
    if cosmetic:
        parts.append(f"⚠️ **{COSMETIC[0].upper()}{COSMETIC[1:]}:** "
                     + ("these stages need no rerun; " if stale else "the numbers below are "
                        "what this code and these params produce. ")
                     + "Run `cnnbench refresh` and commit `dvc.lock`.\n\n"
                     + report(cosmetic, []))
    return "\n\n".join(parts)


def stale_repeats(params: str | Path = "params.yaml") -> list[str]:
    """One line per model whose committed seed repeats are not all noise of its main run."""
    runs = side_runs(None, model_names(None, params), pipeline_paths())
    return ["; ".join(left_out(model, found.left_out)) for model, found in runs.items()
            if found.left_out]


def main(argv: list[str] | None = None) -> None:
    args = runner.parser(__doc__, prog="cnnbench gate").parse_args(argv)
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
