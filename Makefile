# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv and install
# what they need; nothing relies on packages installed by hand.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: demo demo-own-data test test-labelstudio labelstudio chromium bench clean

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

# The loop on an image folder with a SegFormer from a config (examples/own_data; docs/loop.md,
# "Your own data and model"): writes the data set once, then runs.
demo-own-data: $(VENV)/.dev
	test -d examples/own_data/data || $(BIN)/python examples/own_data/make_data.py
	$(BIN)/alsel run examples/own_data/config.toml -o own-data-results

# Label Studio for the round-trip test (tests/test_labelstudio.py), in its own virtual environment:
# its pins clash with ours. Besides the install, a migrated empty database (`label-studio init`)
# that each test server starts from: a fresh one migrates for about a minute, a copy starts in ~10 s.
# Nothing reaches outside: no error reports, analytics or version checks (docs/annotate-labelstudio.md).
LS_VENV    := .venv-labelstudio
LS_VERSION ?= 1.23.2
LS_QUIET   := SENTRY_DSN= FRONTEND_SENTRY_DSN= COLLECT_ANALYTICS=false LATEST_VERSION_CHECK=false

$(LS_VENV)/.ready:
	rm -rf $(LS_VENV)
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install --disable-pip-version-check -q --upgrade pip
	$(LS_VENV)/bin/python -m pip install --disable-pip-version-check -q label-studio==$(LS_VERSION)
	env $(LS_QUIET) XDG_DATA_HOME=$(CURDIR)/$(LS_VENV)/xdg XDG_CONFIG_HOME=$(CURDIR)/$(LS_VENV)/xdg \
	    XDG_CACHE_HOME=$(CURDIR)/$(LS_VENV)/xdg LABEL_STUDIO_BASE_DATA_DIR=$(CURDIR)/$(LS_VENV)/template \
	    $(LS_VENV)/bin/label-studio init --quiet --data-dir $(CURDIR)/$(LS_VENV)/template --no-browser \
	    > $(LS_VENV)/init.log 2>&1 || (tail -20 $(LS_VENV)/init.log; exit 1)
	@touch $@

labelstudio: $(LS_VENV)/.ready

# Debian's Chromium and ChromeDriver for the browser test of `alsel annotate`
# (tests/test_annotate_browser.py), installed only when missing; without root or apt-get the test
# is skipped with its reason.
chromium:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	        echo "installing chromium and chromium-driver (apt-get) for the browser test"; \
	        apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; \
	    else \
	        echo "chromium/chromedriver missing and apt-get unavailable: the browser test will be skipped" >&2; \
	    fi; \
	fi

test: $(VENV)/.dev $(LS_VENV)/.ready chromium
	$(BIN)/python -m pytest -q

# Only the Label Studio round trip (export, real server, import, refusals).
test-labelstudio: $(VENV)/.dev $(LS_VENV)/.ready
	$(BIN)/python -m pytest -q tests/test_labelstudio.py

bench: $(VENV)/.dev
	$(BIN)/python -m pytest benchmarks -q --benchmark-only --benchmark-columns=min,mean,max,rounds --benchmark-json=benchmarks/results.json

clean:
	rm -rf $(VENV) $(LS_VENV) build *.egg-info .pytest_cache .hypothesis demo-results
