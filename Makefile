# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv and install
# what they need; nothing relies on packages installed by hand.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade pip

$(VENV)/.core: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	@touch $@

$(VENV)/.dev: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[dev]'
	@touch $@ $(VENV)/.core $(VENV)/.loop

$(VENV)/.loop: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[loop]'
	@touch $@ $(VENV)/.core

# The active-learning loop on digit scenes (examples/loop-demo.toml; docs/experiment.md).
# The selection-only demo is `.venv/bin/alsel demo`.
demo: $(VENV)/.loop
	$(BIN)/alsel run examples/loop-demo.toml -o demo-results

test: $(VENV)/.dev
	$(BIN)/python -m pytest -q

bench: $(VENV)/.dev
	$(BIN)/python -m pytest benchmarks -q --benchmark-only --benchmark-columns=min,mean,max,rounds --benchmark-json=benchmarks/results.json

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis demo-results
