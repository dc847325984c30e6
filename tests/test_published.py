"""The numbers a visitor reads first match the committed results they claim to show.

The README's results table and the full-data results note are written by hand from
``reports/summary.csv`` (the summarise stage's output, current when ``cnnbench gate``
passes). These tests read every model's row of those tables back and compare each number
with the CSV at the precision printed, so a rerun that is not copied over fails here.
"""

from __future__ import annotations

import re

import pandas as pd

from helpers import ROOT

SUMMARY = pd.read_csv(ROOT / "reports" / "summary.csv").set_index("name")
NUMBER = re.compile(r"[+\-−]?\d[\d,]*(?:\.\d+)?")


def markdown_table(text: str, heading: str, first_column: str) -> dict[str, dict[str, str]]:
    """The first table under ``heading`` whose header starts with ``first_column``, as
    {row name: {column header: cell}}."""
    section = text.split(heading, 1)[1]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith(f"| {first_column} |"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(header, cells))
    return rows


def numbers(cell: str) -> list[str]:
    """Every number in a cell as printed (``0.4762 ± 0.0075`` -> ["0.4762", "0.0075"]),
    with a Unicode minus as ``-`` and no thousands separators."""
    return [match.replace("−", "-").replace(",", "") for match in NUMBER.findall(cell)]


def check_row(row: dict[str, str], column: str, *values: float) -> None:
    """Each number of ``row[column]`` is the matching value rounded as the cell prints it."""
    shown = numbers(row[column])
    assert len(shown) == len(values), (column, row[column])
    for value, text in zip(values, shown):
        digits = len(text.split(".")[1]) if "." in text else 0
        expected = f"{value:.{digits}f}"
        assert float(text) == float(expected), \
            f"{next(iter(row.values()))}, {column!r}: shows {text}, the results say {expected}"


def test_readme_results_table_is_the_committed_summary():
    rows = markdown_table((ROOT / "README.md").read_text(), "## Results", "Net")
    assert set(rows) == set(SUMMARY.index)
    for name, row in rows.items():
        result = SUMMARY.loc[name]
        check_row(row, "cnnbench", result["test.accuracy.mean"], result["test.accuracy.std"])
        check_row(row, "seed report (one run)", result["seed.test.accuracy"])
        check_row(row, "Δ", result["diff.test.accuracy.mean"])


def test_full_data_note_tables_are_the_committed_summary():
    text = (ROOT / "docs" / "results" / "full-data.md").read_text()
    rows = markdown_table(text, "## Test accuracy", "Net")
    assert set(rows) == set(SUMMARY.index)
    for name, row in rows.items():
        result = SUMMARY.loc[name]
        check_row(row, "seed 0", result["test.accuracy"])
        check_row(row, "mean ± std, seeds 0–2", result["test.accuracy.mean"],
                  result["test.accuracy.std"])
        check_row(row, "seed report", result["seed.test.accuracy"])
        check_row(row, "Δ mean", result["diff.test.accuracy.mean"])
        check_row(row, "train acc (last epoch, seed 0)", result["train.accuracy"])
    times = markdown_table(text, "## Time", "Net")
    assert set(times) == set(SUMMARY.index)
    for name, row in times.items():
        result = SUMMARY.loc[name]
        check_row(row, "s / epoch", result["time.epoch_mean_s"])
        check_row(row, "training, s", result["time.train_s"])


def test_seed_zero_runs_name_one_machine():
    """Table 3 is one table and the throughput columns compare like with like only if every
    model's seed-0 run trained on one machine."""
    assert SUMMARY["machine"].nunique() == 1, SUMMARY["machine"].to_dict()
