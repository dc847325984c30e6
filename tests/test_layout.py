"""The package's layout: folders follow the pipeline, and imports only point down.

Floors, lowest first: the ground floor (params, errors, files, stop flag, machine facts,
what counts as code, the stage wrapper, the command line), then the wings in pipeline order. A module may
import its own floor and those below, never one above; no pipeline path is written in
the package (dvc.yaml holds them); the README and the package docstring name every part.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from helpers import ROOT

PACKAGE = ROOT / "src" / "cnnbench"
GROUND = {"config", "errors", "files", "stop", "machine", "source", "runner", "cli",
          "__init__", "__main__"}
WINGS = ["data", "models", "training", "evaluate", "robustness", "report", "review", "tools"]


def _part(path: Path) -> str:
    """The top-level part of the package a source file belongs to."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _floor(part: str) -> int:
    return 0 if part in GROUND else 1 + WINGS.index(part)


def _imported(path: Path, top_level_only: bool = False) -> set[str]:
    """The ``cnnbench`` parts that ``path`` imports (anywhere in it, or at top level)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    parts = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] if node.module != "cnnbench" else [
                f"cnnbench.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        parts |= {n.split(".")[1] for n in names if n.startswith("cnnbench.")}
    return parts


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_at_most_nine_flat_modules_and_every_wing_is_a_package():
    flat = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    assert len(flat) <= 9, sorted(flat)
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert folders == {"config", "data", "models", "training", "report", "review", "tools"}
    assert flat | folders == GROUND - {"__init__", "__main__"} | set(WINGS)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_floor_above_its_own(path):
    mine = _floor(_part(path))
    above = {part for part in _imported(path) if _floor(part) > mine}
    assert not above, f"{path.relative_to(PACKAGE)} imports {sorted(above)} from above"


def test_the_report_wing_never_imports_the_review_wing():
    for path in (PACKAGE / "report").glob("*.py"):
        assert "review" not in _imported(path), path.name


def test_no_import_loop_between_modules():
    """Top-level imports between modules form no cycle (Python would half-initialise one)."""
    def module(path: Path) -> str:
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        return ".".join(rel.parts).removesuffix(".__init__")

    names = {module(p): p for p in SOURCES}
    edges = {}
    for name, path in names.items():
        targets = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.module:
                candidates = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            else:
                continue
            targets |= {c for c in candidates if c in names and c != name}
        edges[name] = targets
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in edges[node]:
            assert state.get(target) != 1, "import loop: " + " -> ".join(trail + [target])
            if target not in state:
                visit(target, trail + [target])
        state[node] = 2

    for name in names:
        if name not in state:
            visit(name, [name])


def test_no_pipeline_path_is_written_in_the_package():
    pattern = re.compile(r"metrics/|plots/train|plots/eval|plots/figures|data/prepared|reports/")
    found = [f"{p.relative_to(PACKAGE)}:{i}" for p in SOURCES
             for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not found, found


def test_the_readme_and_the_package_docstring_name_every_part():
    import cnnbench

    layout = (ROOT / "README.md").read_text().split("## Layout", 1)[1]
    for part in ["config", "data", "models", "training", "report", "review", "tools"]:
        assert f"{part}/" in layout, part
        assert f"``{part}``" in cnnbench.__doc__, part
    for module in GROUND - {"__init__", "__main__", "config"} | {"evaluate", "robustness"}:
        assert f"``{module}``" in cnnbench.__doc__, module
