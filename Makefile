# Two commands for a fresh machine (see README):  make demo   |   make test
# torch==2.13.0 is pinned first so pip takes the local CPU wheel instead of a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install demo test lint browser

$(BIN)/patchdna: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[dev,ui,bench]"
	touch $@

install: $(BIN)/patchdna

demo: install
	$(BIN)/patchdna demo --out demo_output

browser:
	@command -v chromium >/dev/null 2>&1 || bash scripts/install_chromium.sh

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: install browser lint
	$(BIN)/pytest -p no:cacheprovider tests
