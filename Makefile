# Vigil: the two commands are `make demo` and `make test`. Each does its own set-up.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
# uv never downloads an interpreter of its own, and never re-resolves behind our back: every install below
# reads uv.lock (hash-checked) and fails if pyproject.toml and the lock disagree.
export UV_PYTHON_DOWNLOADS := never
# Bootstrap: the one file pip reads, to install uv itself (pinned, every wheel's hash listed).
BOOTSTRAP := scripts/bootstrap-requirements.txt
# What the Function App's remote build installs: exported from uv.lock, with hashes.
EXPORT := $(UV) export --frozen --no-default-groups --no-emit-project --format requirements-txt --no-header -q

include scripts/infra.mk

.PHONY: demo demo-shots console-shots card-shots test lint typecheck pytest lock-check requirements requirements-check upgrade bench clean setup node chromium alertmanager

$(BIN)/uv: $(BOOTSTRAP)
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11) on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r $(BOOTSTRAP)
	touch $@

# `uv sync --locked` installs exactly uv.lock (hashes verified; pip, setuptools and uv themselves too) and
# removes anything else; it stops if pyproject.toml changed without re-locking. Bytecode is compiled at
# install, so no start (CLI or Functions cold start) compiles modules.
$(VENV)/.installed: $(BIN)/uv pyproject.toml uv.lock
	$(UV) sync --locked --compile-bytecode -q
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's chromium renders the digest in tests (driven by Playwright, which never downloads a browser here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	  else echo "install Debian's chromium package (apt-get install chromium)" >&2; exit 1; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Debian's prometheus-alertmanager (0.25: amtool and alertmanager) checks routing and the forwarding receiver
# against Alertmanager itself in tests (tests/alerts/amtool.py); the tests skip where it is missing.
alertmanager:
	@command -v amtool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	  else echo "install Debian's prometheus-alertmanager package (apt-get install prometheus-alertmanager)" >&2; exit 1; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null; }

setup: $(VENV)/.installed

node: node_modules/.installed

# The lock agrees with pyproject.toml: checked offline, from the two files alone. A newer release upstream
# can never fail it; a dependency added to or removed from pyproject.toml without re-locking always does.
lock-check: $(BIN)/uv
	@$(UV) lock --check --offline -q || { echo "uv.lock does not match pyproject.toml: run 'make upgrade' (or 'uv lock' to add only what changed)" >&2; exit 1; }
	@echo "uv.lock matches pyproject.toml"

requirements: $(BIN)/uv
	$(EXPORT) -o requirements.txt

requirements-check: lock-check
	@$(EXPORT) -o $(VENV)/requirements.check.txt
	@diff -u requirements.txt $(VENV)/requirements.check.txt || { echo "requirements.txt is not the export of uv.lock: run 'make requirements'" >&2; exit 1; }
	@echo "requirements.txt is the export of uv.lock"

# The one command that re-resolves: newest allowed releases into uv.lock, requirements.txt re-exported,
# and what changed printed. Review the diff, run `make test`, commit both files.
upgrade: $(BIN)/uv tools-upgrade
	@cp uv.lock $(VENV)/uv.lock.before
	$(UV) lock --upgrade
	$(EXPORT) -o requirements.txt
	@$(BIN)/python scripts/lockdiff.py $(VENV)/uv.lock.before uv.lock

demo: setup
	$(BIN)/vigil demo --out out
	@echo "console:       $(BIN)/vigil serve --state out/state.db   (prints the URL to open; docs/console.md)"
	@$(MAKE) --no-print-directory demo-shots

# The console's browser tests, keeping their screenshots in out/console/.
console-shots: setup node chromium
	VIGIL_CONSOLE_SHOTS=$(CURDIR)/out/console $(BIN)/python -m pytest tests/console/test_browser.py -q

# The demo's screenshots: the same browser tests where Chromium is installed. Never fails the demo: without
# Chromium it says so and skips; if the browser run fails it says so (`make console-shots` shows why).
CHROMIUM ?= $(shell command -v chromium 2>/dev/null)
demo-shots:
	@mkdir -p out; if [ -z "$(CHROMIUM)" ] || [ ! -x "$(CHROMIUM)" ]; then \
	  echo "screenshots:   skipped: Chromium is not installed (\`make chromium\` installs Debian's package, then \`make console-shots\`)"; \
	elif VIGIL_CONSOLE_SHOTS=$(CURDIR)/out/console $(BIN)/python -m pytest tests/console/test_browser.py -q \
	    -p no:cacheprovider >out/console-shots.log 2>&1; then \
	  echo "screenshots:   out/console/ (the console in Chromium; log in out/console-shots.log)"; \
	else \
	  echo "screenshots:   FAILED, the demo itself succeeded: see out/console-shots.log, or run \`make console-shots\`" >&2; \
	fi
	@if [ -z "$(CHROMIUM)" ] || [ ! -x "$(CHROMIUM)" ] || [ ! -f node_modules/.installed ]; then \
	  echo "card shots:    skipped: needs Chromium and the adaptivecards renderer (\`make card-shots\` installs both)"; \
	elif VIGIL_CARD_SHOTS=$(CURDIR)/out/cards $(BIN)/python -m pytest tests/vigil/test_demo_outbox.py -q -k chromium \
	    -p no:cacheprovider >out/card-shots.log 2>&1; then \
	  echo "card shots:    out/cards/ (one Teams card of each kind, rendered by adaptivecards in Chromium)"; \
	else \
	  echo "card shots:    FAILED, the demo itself succeeded: see out/card-shots.log, or run \`make card-shots\`" >&2; \
	fi

# One Teams card of each kind from the demo's outbox, rendered in Chromium by the adaptivecards renderer, into out/cards/.
card-shots: setup node chromium
	VIGIL_CARD_SHOTS=$(CURDIR)/out/cards $(BIN)/python -m pytest tests/vigil/test_demo_outbox.py -q -k chromium

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

# On every core (pytest-xdist): each worker starts its own Azurite on free ports.
pytest: setup node chromium alertmanager tools
	$(BIN)/python -m pytest -n auto

# Azurite is started by tests/conftest.py on free loopback ports and stopped at the end.
test: requirements-check setup node lint typecheck checkov pytest

bench: setup node
	$(BIN)/python -m bench

clean:
	rm -rf out .mypy_cache .ruff_cache
