# cnnbench quick start:
#   make repro   set up .venv and run the pipeline (dvc repro)
#   make test    set up .venv and run the tests
# Set PYTHON to pick the interpreter that creates .venv (default: python3).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup repro test clean-venv help

help:
	@echo "make repro   set up $(VENV) and run the pipeline (dvc repro)"
	@echo "make test    set up $(VENV) and run the tests"
	@echo "make setup   only create $(VENV) and install cnnbench with its pinned dependencies"

setup: $(STAMP)

# Reinstall when the dependencies change; the project itself is installed editable.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

repro: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

test: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

clean-venv:
	rm -rf $(VENV)
