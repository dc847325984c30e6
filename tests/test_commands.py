"""The `cnnbench` entry point: its commands, their help, and the console script it installs."""

from __future__ import annotations

import importlib
import tomllib

from helpers import ROOT, cnnbench

from cnnbench.cli import COMMANDS


def test_the_console_script_names_the_command_that_python_m_runs():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["cnnbench"].partition(":")
    main = getattr(importlib.import_module(module), function)
    assert callable(main)
    assert main is importlib.import_module("cnnbench.cli").main


def test_help_lists_every_command_with_its_line():
    result = cnnbench("--help")
    assert result.returncode == 0, result.stderr
    for name in ("review", "repeats", "bench", "estimate"):
        assert name in COMMANDS
        line = next(line for line in result.stdout.splitlines() if line.split()[:1] == [name])
        assert COMMANDS[name][1].split()[0] in line


def test_every_command_has_its_own_help():
    for name in COMMANDS:
        result = cnnbench(name, "--help")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"usage: cnnbench {name} "), name


def test_an_unknown_or_missing_command_is_a_usage_error():
    unknown = cnnbench("benchmark")
    assert unknown.returncode == 2
    assert "invalid choice: 'benchmark'" in unknown.stderr
    assert cnnbench().returncode == 2


def test_a_commands_error_is_one_line_that_names_the_command():
    result = cnnbench("bench", "--models", "resnet50")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("cnnbench bench: error: --models: unknown model 'resnet50' "
                           "(did you mean 'resnet18'?); known models: ")
