"""Stale-results gate: fail when the committed results no longer match the code and params.

    cnnbench gate

Lists each stage ``dvc status`` says would rerun, with the reasons and the stages
downstream, and exits 1; stages stale only by comments, docstrings or formatting are named
apart, with the fix (``cnnbench refresh``). Absent files (no ``dvc pull``) are no change.
Warns, without failing, of committed seed repeats that are no noise of their main run.
"""

from __future__ import annotations

from cnnbench import runner
from cnnbench.report.provenance import left_out
from cnnbench.review.project import (downstream, model_names, pipeline_paths, stale_stages,
                                     status)
from cnnbench.review.refresh import verdicts
from cnnbench.review.runs import side_runs

SHOWN = 4  # reasons listed per stage; the rest are counted


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
    cosmetic = {v.stage: v.files for v in verdicts(found, strict=False) if v.harmless}
    rerun = {stage: reasons for stage, reasons in stale.items() if stage not in cosmetic}
    also = downstream(list(rerun)) if rerun else []
    cosmetic = {stage: files for stage, files in cosmetic.items() if stage not in also}
    return rerun, cosmetic, also


def verdict() -> list[tuple[str, str, str]]:
    """The gate's verdict: ``(title, what it means and what to do, stages)`` per part; no
    stages when the results are current."""
    stale, cosmetic, also = check()
    if not stale and not cosmetic:
        return [("Results are current", "`dvc.lock` matches the code and params.", "")]
    parts = []
    if stale:
        parts.append(("Stale results", "these stages would rerun, so the committed results "
                      "are not what this code and these params produce. Run `dvc repro` and "
                      "commit `dvc.lock` and its outputs.", report(stale, also)))
    if cosmetic:
        parts.append(("Stale only by edits that cannot change any output (comments, "
                      "docstrings, formatting)", ("these stages need no rerun" if stale else
                      "the committed results are what this code and these params produce")
                      + ". Run `cnnbench refresh` and commit `dvc.lock`.", report(cosmetic, [])))
    return parts


def markdown() -> str:
    """The gate's verdict as Markdown, for the pull-request comment."""
    return "\n\n".join(f"{'⚠️' if stages else '✅'} **{title}:** {text}"
                       + (f"\n\n{stages}" if stages else "") for title, text, stages in verdict())


def main(argv: list[str] | None = None) -> None:
    args = runner.parser(__doc__, prog="cnnbench gate").parse_args(argv)
    runs = side_runs(None, model_names(None, args.params), pipeline_paths())
    for model, found in runs.items():  # repeats that are not all noise of their main run
        if found.left_out:
            print(f"gate: warning: {'; '.join(left_out(model, found.left_out))}")
    parts = verdict()
    for title, text, stages in parts:
        print(f"gate: {title[0].lower()}{title[1:]}: {text}" + (f"\n{stages}" if stages else ""))
    if parts[0][2]:
        raise SystemExit(1)
