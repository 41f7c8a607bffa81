# Two entry points a newcomer needs: `make demo` and `make test`. Both install what they need.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: demo test test-fast fuzz lint deps bench install

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

deps:
	@bash scripts/system-deps.sh

# The demo uses this machine's PostgreSQL binaries; with none installed it adds bundled ones.
demo: $(VENV)/.installed
	@$(PY) -c 'from skene_cdc.demo.postgres import find_pg_bindir as f; raise SystemExit(f() is None)' \
	  || $(PY) -m pip install -q -e '.[embedded]'
	$(VENV)/bin/skene-cdc demo

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check skene_cdc tests bench examples
	$(VENV)/bin/mypy

test: $(VENV)/.installed deps lint
	$(PY) -m pytest

# Pure logic, in-process, no PostgreSQL or Redis (tests/conftest.py marks them): seconds, while
# `make test` still runs everything.
test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m fast

# The property-based tests with Hypothesis's long profile (tests/fuzz_settings.py): minutes, not
# seconds. `make test` runs the same tests with the short profile.
fuzz: $(VENV)/.installed deps
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -m fuzz

bench: $(VENV)/.installed deps
	$(PY) -m bench
