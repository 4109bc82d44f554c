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

.PHONY: quickstart test setup test-deps clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -e .
	touch $@

setup: $(VENV)/.installed
	$(VENV)/bin/iotbench setup

quickstart: setup
	$(VENV)/bin/iotbench quickstart

# Debian packages some tests use: headless Chromium (page screenshots), InfluxDB 1.x (the
# Mongo → InfluxDB bridge) and libfaketime (the clock_skew fault). Installed when missing and
# we are root; otherwise those tests skip and say why.
TEST_PACKAGES := $(if $(shell command -v chromium),,chromium) $(if $(shell command -v influxd),,influxdb) $(if $(shell command -v faketime),,faketime)
test-deps:
	@if [ -n "$(strip $(TEST_PACKAGES))" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages: $(strip $(TEST_PACKAGES))"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      $(TEST_PACKAGES) >/dev/null || echo "apt-get failed: those tests will skip"; \
	  else echo "not root: $(strip $(TEST_PACKAGES)) missing, those tests will skip"; fi; \
	fi

test: setup test-deps
	$(VENV)/bin/python -m pytest --durations=25 $(PYTEST_ARGS)

clean:
	-$(VENV)/bin/iotbench stack down
	rm -rf $(VENV) .iotbench
