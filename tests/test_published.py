"""The numbers a visitor reads first match the committed results they claim to show, and
every link in the docs leads somewhere.

The README's results table and the full-data note's time table are written by hand from
``reports/summary.csv`` (the summarise stage's output, current when ``cnnbench gate``
passes). These tests read every model's row of those tables back and compare each number
with the CSV at the precision printed, so a rerun that is not copied over fails here. The
results table has one home, the README: no docs page copies its rows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from helpers import ROOT

SUMMARY = pd.read_csv(ROOT / "reports" / "summary.csv").set_index("name")
NUMBER = re.compile(r"[+\-−]?\d[\d,]*(?:\.\d+)?")
LINK = re.compile(r"\]\(([^)\s]+)\)")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


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
        spread = [] if pd.isna(result["test.accuracy.std"]) else [result["test.accuracy.std"]]
        check_row(row, "cnnbench", result["test.accuracy.mean"], *spread)  # one run: no std
        check_row(row, "seed report (one run)", result["seed.test.accuracy"])
        check_row(row, "Δ", result["diff.test.accuracy.mean"])


def test_readme_results_table_is_the_only_copy():
    """Each model's row of the README's results table appears in no docs page."""
    rows = markdown_table((ROOT / "README.md").read_text(), "## Results", "Net")
    for page in DOCS[1:]:
        text = page.read_text()
        for name, row in rows.items():  # a mean ± std; one run's number is in per-run tables
            assert "±" not in row["cnnbench"] or f"| {row['cnnbench']} |" not in text, \
                f"{page.relative_to(ROOT)} copies the README's {name} result; link it instead"


def test_full_data_time_table_is_the_committed_summary():
    text = (ROOT / "docs" / "results" / "full-data.md").read_text()
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


def heading_anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the Markdown headings of ``page`` (code blocks skipped)."""
    anchors, in_code = set(), False
    for line in page.read_text().splitlines():
        in_code ^= line.startswith("```")
        if not in_code and line.startswith("#"):
            title = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower())
            anchors.add(title.replace(" ", "-"))
    return anchors


def test_relative_links_resolve():
    """Every relative link in the README and docs/ names a file that exists and, into a
    Markdown page, a heading it has."""
    broken = []
    for page in DOCS:
        for target in LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path) if path else page
            if not dest.exists() or (anchor and dest.suffix == ".md"
                                     and anchor not in heading_anchors(dest)):
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, broken
