# The README's two commands:
#   make quickstart   set everything up from a fresh clone, then run the main job
#   make test         set up whatever is missing, then run the test suite
# Everything downloaded (wheels, jars, Go modules and binaries, npm packages) lands in
# $(IOTBENCH_CACHE), so a second run is fast and works offline.

PYTHON ?= python3
VENV := .venv
export IOTBENCH_CACHE ?= $(HOME)/.cache/iotbench
export PIP_CACHE_DIR := $(IOTBENCH_CACHE)/pip
PYTEST_ARGS ?=

.PHONY: quickstart test setup browser clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -e .
	touch $@

setup: $(VENV)/.installed
	$(VENV)/bin/iotbench setup

quickstart: setup
	$(VENV)/bin/iotbench quickstart

# Headless Chromium for the page tests (Debian's package); skipped when not root.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium not installed: page screenshots will be skipped"; }

test: setup browser
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

clean:
	-$(VENV)/bin/iotbench stack down
	rm -rf $(VENV) .iotbench
