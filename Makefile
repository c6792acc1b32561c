# Two entry points for a fresh machine: `make demo` and `make test`.
# Both go through `make setup`, which is idempotent: each step reruns only
# when its inputs changed.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NODE := node_modules/.bin/node
HARDHAT := $(NODE) node_modules/hardhat/dist/src/cli.js
DEMO_HOME ?= $(CURDIR)/.demo-home

.PHONY: setup demo test lint test-python test-contracts contracts bench clean chromium

setup: $(VENV)/.installed node_modules/.installed artifacts/.built chromium

$(VENV)/.installed: pyproject.toml provenance/hashing/_pillow_lanczos.c
	$(PYTHON) -m venv $(VENV)
	# torch is pinned to 2.13.0 in pyproject: the CPU wheel on local disk.
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# `npm ci` fails here (other platforms' optional packages are missing from
# the registry); `npm install` with the committed lockfile works. --no-save
# keeps npm from writing those platforms' entries back into the lockfile, so
# setup leaves the checkout clean.
node_modules/.installed: package.json package-lock.json
	npm install --no-save --no-audit --no-fund --loglevel=error
	touch $@

artifacts/.built: $(wildcard contracts/*.sol contracts/*/*.sol) hardhat.config.js node_modules/.installed
	$(HARDHAT) build --quiet
	touch $@

# The web page's browser tests (tests/server) drive Debian's Chromium: Playwright's own browser
# download is not reachable. Installed when missing (apt-get, as root or with password-less sudo);
# if that fails, setup goes on and those tests skip saying why.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo "sudo -n" ); \
	  $$SUDO apt-get install -y -qq chromium >/dev/null 2>&1 || { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; } \
	  || echo "warning: chromium could not be installed; the browser tests will be skipped"; }

contracts: artifacts/.built
	$(PY) -m provenance.chain.artifact export

demo: setup
	PROVENANCE_HOME=$(DEMO_HOME) bash scripts/demo.sh

test-contracts: setup
	$(HARDHAT) test solidity

test-python: setup
	$(VENV)/bin/pytest

# Lint first: a style or type error fails `make test` (and CI) before the long suites run.
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

test: lint test-contracts test-python

bench: setup
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) node_modules artifacts cache $(DEMO_HOME)
