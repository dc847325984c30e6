# cnnbench quick start:
#   make estimate  how long `make repro` will take on this machine (about a minute)
#   make repro   set up .venv, check params.yaml (cnnbench check), run the pipeline (dvc repro)
#   make check   set up .venv and run the fast tests (a few minutes)
#   make test    set up .venv and run all the tests
# Set PYTHON to pick the interpreter that creates .venv (default: python3).
# CNNBENCH_DATA=DIR make repro: fetch reads the data set that params.yaml names (data.source)
# from DIR before the user cache or a download; make passes it to dvc like any environment
# variable (docs/guide/experiments.md, "Data sources").
# The build follows the machine: a GPU build where nvidia-smi lists an NVIDIA GPU, else a
# CPU build; DEVICE=gpu|cpu and BACKEND=tensorflow|jax choose it (docs/guide/gpu.md).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

DEVICE ?= auto
BACKEND ?= $(if $(filter jax,$(KERAS_BACKEND)),jax,tensorflow)
# The pyproject extras of this machine's build (cpu, cuda, cpu,jax or cpu,jax-cuda)
EXTRAS := $(shell PYTHONPATH=src $(PYTHON) -m cnnbench extras --device '$(DEVICE)' \
                  --backend '$(BACKEND)')
ifeq ($(EXTRAS),)
$(error DEVICE=$(DEVICE) BACKEND=$(BACKEND): no build to install (see the line above))
endif
comma := ,
# One stamp per build: the runtime dependencies, or those and the test extra.
STAMP := $(VENV)/.installed-$(subst $(comma),+,$(EXTRAS))
TEST_STAMP := $(STAMP)+test

BASE ?= main
# Vega builds for an offline `dvc plots diff` page; the versions DVC's HTML asks for.
VEGA := $(VENV)/share/vega
VEGA_PACKAGES := vega@5.20.2 vega-lite@5.2.0 vega-embed@6.18.2

TORCH_VENV ?= .venv-torch

.PHONY: setup repro estimate check test report vega bench torch-reference clean-venv help

help:
	@echo "make estimate  how long make repro will take on this machine, per model"
	@echo "make repro   set up $(VENV), check params.yaml, run the pipeline (dvc repro)"
	@echo "make check   set up $(VENV) and run the fast tests (not the slow ones)"
	@echo "make test    set up $(VENV) and run all the tests"
	@echo "make report  BASE=main: Markdown review of the working tree against BASE"
	@echo "             (reports/review/review.md and reports/review/plots/index.html)"
	@echo "make bench   training and inference throughput of the five models (bench/results/)"
	@echo "make torch-reference  the same architectures in PyTorch eager, the speed baseline"
	@echo "make setup   only create $(VENV) and install cnnbench with its pinned dependencies"
	@echo "             (this machine: extras $(EXTRAS); DEVICE=gpu|cpu BACKEND=tensorflow|jax"
	@echo "             choose another build: docs/guide/gpu.md)"

setup: $(STAMP)

# Reinstall when the dependencies change; the project itself is installed editable, by uv
# (2.4x faster than pip: docs/results/run-time.md). Bytecode is compiled at install, as pip
# does: with PYTHONDONTWRITEBYTECODE set, every process would compile TensorFlow anew. A
# venv holds one build: switching builds (cpu, cuda, ...) needs `make clean-venv` first.
$(STAMP) $(TEST_STAMP): pyproject.toml
	@for other in $(VENV)/.installed-*; do \
	    case "$$other" in "$(STAMP)"|"$(TEST_STAMP)"|"$(VENV)/.installed-*") ;; \
	    *) echo "$(VENV) holds another build ($${other#$(VENV)/.installed-}); run" \
	            "make clean-venv, then this again"; exit 2;; esac; done
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==0.13.10
	VIRTUAL_ENV=$(abspath $(VENV)) UV_COMPILE_BYTECODE=1 $(BIN)/uv pip install --quiet -e '.[$(EXTRAS)$(if $(filter $@,$(TEST_STAMP)),$(comma)test)]'
	touch $(sort $@ $(STAMP))

# Offline copies of the Vega scripts, from the npm registry (needs npm).
vega: $(VEGA)/vega-embed.min.js

$(VEGA)/vega-embed.min.js:
	set -e; tmp=$$(mktemp -d); \
	for pkg in $(VEGA_PACKAGES); do (cd $$tmp && npm pack --silent $$pkg > /dev/null); done; \
	for f in $$tmp/*.tgz; do tar xzf $$f -C $$tmp package/build; done; \
	mkdir -p $(VEGA); \
	cp $$tmp/package/build/vega.min.js $$tmp/package/build/vega-lite.min.js \
	   $$tmp/package/build/vega-embed.min.js $(VEGA)/; rm -rf $$tmp

report: setup
	$(MAKE) vega || echo "make vega failed: the plots page will load Vega from the CDN"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/cnnbench review --base $(BASE) --vega-dir $(VEGA)

# The whole params.yaml is checked first: some mistakes would stop in DVC's own parser.
repro: setup
	$(BIN)/cnnbench check
	KERAS_BACKEND=$(BACKEND) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

estimate: setup
	KERAS_BACKEND=$(BACKEND) $(BIN)/cnnbench estimate

check: $(TEST_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -m "not slow"

# One worker per core, at most 8 (each holds a TensorFlow); each test file stays on one
# worker, so a fixture that runs the pipeline once for a whole file runs once (loadfile);
# files go out in collection order, which tests/conftest.py sorts longest first.
test: $(TEST_STAMP) vega
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n auto --maxprocesses 8 \
	    --dist loadfile --no-loadscope-reorder --durations=15

bench: setup
	mkdir -p bench/results
	$(BIN)/cnnbench bench --json bench/results/keras-$(shell hostname).json

# PyTorch lives in its own environment: it is the baseline, not a dependency.
$(TORCH_VENV)/.installed:
	test -x $(TORCH_VENV)/bin/python || $(PYTHON) -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/python -m pip install --quiet torch==2.13.0 numpy==2.4.6
	touch $@

torch-reference: $(TORCH_VENV)/.installed
	mkdir -p bench/results
	$(TORCH_VENV)/bin/python bench/torch_reference.py \
	    --json bench/results/torch-$(shell hostname).json

clean-venv:
	rm -rf $(VENV)
