# One command each on a fresh machine: `make test`, `make serve` (they run `make install` first when needed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint serve demo model bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: install
	$(BIN)/ruff check training service tests bench
	$(BIN)/mypy

test: install lint
	$(BIN)/pytest

# No --host/--port here: THRESHER_HOST (127.0.0.1), THRESHER_PORT (8000) and every other setting apply.
serve: install
	$(BIN)/thresher serve

demo: install
	$(BIN)/thresher demo --seeds ../shared/seeds

model: install
	$(BIN)/thresher train --out models/default --name default --seed 0

bench: install
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/quality.py
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
