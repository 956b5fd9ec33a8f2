# Vigil: the two commands are `make demo` and `make test`. Each does its own set-up.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
# Resolution cut-off keeps requirements.txt reproducible; bump it when adding a dependency.
EXCLUDE_NEWER := 2026-11-27T00:00:00Z
COMPILE := $(UV) pip compile pyproject.toml --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	--exclude-newer $(EXCLUDE_NEWER) --no-header --no-annotate -q

include scripts/infra.mk

.PHONY: demo test lint typecheck pytest requirements requirements-check bench clean setup node chromium

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11) on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv

$(VENV)/.installed: $(BIN)/python pyproject.toml requirements.txt
	$(UV) pip install --python $(BIN)/python -q -r requirements.txt
	$(UV) pip install --python $(BIN)/python -q -e '.[dev]'
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

setup: $(VENV)/.installed

node: node_modules/.installed

requirements: $(BIN)/python
	$(COMPILE) -o requirements.txt

requirements-check: $(BIN)/python
	@$(COMPILE) -o $(VENV)/requirements.check.txt
	@diff -u requirements.txt $(VENV)/requirements.check.txt || { echo "requirements.txt drifted from pyproject.toml: run 'make requirements'" >&2; exit 1; }
	@echo "requirements.txt matches pyproject.toml"

demo: setup
	$(BIN)/vigil demo --out out

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

pytest: setup node chromium tools
	$(BIN)/python -m pytest

# Azurite is started by tests/conftest.py on free loopback ports and stopped at the end.
test: setup node requirements-check lint typecheck checkov pytest

bench: setup node
	$(BIN)/python -m bench

clean:
	rm -rf out .mypy_cache .ruff_cache
