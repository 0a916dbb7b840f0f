# The course's commands. The README's two: `make lab` and `make test`.
# Both set up .venv first (idempotent: skipped when requirements.txt and
# pyproject.toml have not changed since the last install).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup lab test lint unit nbval outputs bench clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## Open the course in JupyterLab. (As root, e.g. in a container, Jupyter needs --allow-root.)
lab: setup
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

## All tests, as CI runs them: lint + type check, cvlib unit tests (random order) with the
## full-profile rehearsal, then every notebook against its stored outputs (nbval, quick profile).
test: lint unit nbval

## ruff (lint + formatting) and mypy on cvlib: under a minute.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy cvlib

## Unit tests (and the rehearsal), in random order: pytest-randomly prints the seed; rerun a
## failing order with `make unit PYTEST_ARGS="-p randomly --randomly-seed=N"`.
unit: setup
	CVLIB_PROFILE=quick $(BIN)/python -m pytest tests/ $(PYTEST_ARGS)

## Per-cell timeout 300 s: the longest lesson cell takes 175 s on 2 loaded cores (lesson 02's
## accuracy-vs-labels curve). A kernel that sits idle without replying fails in ~60 s anyway
## ("kernel idle, no reply", conftest.py / scripts/nbtools.py; issue 19). Cells run in order:
## pytest-randomly is switched off here.
CELL_TIMEOUT ?= 300
nbval: setup
	CVLIB_PROFILE=quick $(BIN)/python -m pytest -p no:randomly notebooks/ \
		--nbval --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=$(CELL_TIMEOUT)

## Re-run notebooks in the quick profile and store their outputs (the nbval reference).
## One notebook: make outputs NB=notebooks/01_cnn_basics.ipynb
NB ?= notebooks/*.ipynb
outputs: setup
	$(BIN)/python scripts/regenerate_outputs.py $(NB)

## Benchmark table: wall time, peak memory and key metric of each lesson (quick profile).
bench: setup
	$(BIN)/python scripts/benchmark.py $(NB)

clean:
	rm -rf $(VENV) .pytest_cache
