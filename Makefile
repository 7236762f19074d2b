# Two commands set everything up on a fresh machine:
#   make demo   local chain, simulated phone line, full materialization, Dagster UI + dashboard
#   make test   the whole test suite (what .ci/run calls)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := contracts/node_modules/.installed
export DT_HOME ?= $(CURDIR)/.dt_home

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends

.PHONY: setup browser broker demo test lint bench clean-state

setup: $(PY_STAMP) $(NODE_STAMP) broker browser

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(NODE_STAMP): contracts/package.json contracts/package-lock.json
	cd contracts && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium: the daily report's PDF is printed by it (headless), and the dashboard's
# browser tests drive it through Playwright (no browser download).
browser:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium (report PDFs, browser tests)"; \
	  $(SUDO) $(APT_INSTALL) chromium || { $(SUDO) apt-get update -qq && $(SUDO) $(APT_INSTALL) chromium; }; }

# The live line's broker: Debian's Eclipse Mosquitto, started by `dt-platform broker up` (not by
# the package's service) on 127.0.0.1 with the config, passwords and ACLs under $DT_HOME/broker.
broker:
	@command -v mosquitto >/dev/null || command -v /usr/sbin/mosquitto >/dev/null || { echo "installing Debian's mosquitto for the live line"; \
	  $(SUDO) $(APT_INSTALL) mosquitto || { $(SUDO) apt-get update -qq && $(SUDO) $(APT_INSTALL) mosquitto; }; }

demo: setup
	$(BIN)/dt-platform demo

# pytest exits 5 when it collects nothing: for this project that means discovery broke, so fail loudly.
test: setup
	@$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests - test discovery is broken" >&2; fi; \
	exit $$rc

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	@for b in benchmarks/[!_]*.py; do echo "== $$b" >&2; $(BIN)/python $$b || exit 1; done

clean-state:
	rm -rf $(DT_HOME)
