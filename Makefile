# Two commands for a newcomer: `make demo` and `make test`. Each builds .venv by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DB := data/demo.duckdb

.PHONY: demo test lint clean bench bench-quick lab

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	rm -f $(DEMO_DB) $(DEMO_DB).wal
	$(BIN)/backorder-ops --db $(DEMO_DB) load data/sample/catalogus.xlsx
	$(BIN)/backorder-ops --db $(DEMO_DB) batch preview data/sample/batch_week49.xlsx
	$(BIN)/backorder-ops --db $(DEMO_DB) batch apply data/sample/batch_week49.xlsx --reference "demo week 49"
	$(BIN)/backorder-ops --db $(DEMO_DB) history
	$(BIN)/backorder-ops --db $(DEMO_DB) report batch 2 --out data/demo-rapport.xlsx --charts > /dev/null
	@echo "Wrote data/demo-rapport.xlsx, the report of the sample batch (batch 2), and its charts data/demo-rapport-*.png."

# JupyterLab on notebooks/, with the demo database (built by `make demo` when missing).
# More options for jupyter lab: make lab LAB_ARGS="--no-browser --port 8890"
LAB_ARGS ?=
lab: $(VENV)/.lab | $(DEMO_DB)
	BACKORDER_OPS_DB="$(CURDIR)/$(DEMO_DB)" $(BIN)/jupyter lab $(LAB_ARGS) notebooks/

$(VENV)/.lab: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[lab]'
	touch $@

$(DEMO_DB):
	$(MAKE) demo

test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# Benchmarks (issue 3): toolkit and baseline side by side; generates its own data.
bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks.run

bench-quick: $(VENV)/.installed
	$(BIN)/python -m benchmarks.run --quick

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(DEMO_DB) $(DEMO_DB).wal data/demo-rapport.xlsx data/demo-rapport-*.png
