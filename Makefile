# Beacon: two commands do everything on a fresh clone: `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export BEACON_DATA_DIR ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(BEACON_DATA_DIR)/dagster
# uv is fetched from PyPI with pip if the machine lacks it; it installs the locked versions.
UV := $(shell command -v uv 2>/dev/null || echo $(VENV)-tools/bin/uv)
PYTEST_ARGS ?=
# Two workers (this machine has 2 cores); a module's tests stay on one worker so its fixtures build once.
XDIST ?= -n 2 --dist loadscope

.PHONY: install demo test test-fast ui bench lint docs dbt-docs gx-docs clean help bi bi-stop

help:
	@echo "make demo   - install, generate the demo data, materialise every asset, print what was built"
	@echo "make test   - install if needed, run the whole test suite"
	@echo "make ui     - start the Dagster UI on http://127.0.0.1:3000"
	@echo "make bi     - Superset with Beacon's dashboards on http://127.0.0.1:8088 (read-only on marts.duckdb; run make demo first)"
	@echo "make bench  - run the scripts in bench/ and print their figures"
	@echo "make lint   - ruff"
	@echo "make docs / dbt-docs / gx-docs - contracts doc, dbt docs site, GX Data Docs"

$(VENV)-tools/bin/uv:
	python3 -m venv $(VENV)-tools && $(VENV)-tools/bin/pip install -q uv==0.13.9

$(VENV)/.installed: requirements.lock pyproject.toml | $(UV)
	test -x $(PY) || $(UV) venv -q --python 3.11 $(VENV)
	VIRTUAL_ENV=$(VENV) $(UV) pip install -q -r requirements.lock
	VIRTUAL_ENV=$(VENV) $(UV) pip install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/beacon demo

test: install
	$(BIN)/pytest $(XDIST) $(PYTEST_ARGS)

test-fast: install
	$(BIN)/pytest $(XDIST) -m "not slow and not e2e and not spark and not bi and not services" $(PYTEST_ARGS)

ui: install
	$(PY) -c "from lakehouse.config import paths; from orchestration.demo import ensure_dagster_home; ensure_dagster_home(paths())"
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

bi: install
	$(PY) -m lakehouse.bi.setup

bi-stop: install
	$(PY) -m lakehouse.bi.setup stop

bench: install
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

docs: install
	$(PY) -m lakehouse.contracts.docs > docs/contracts.md

dbt-docs: install
	$(PY) -c "from orchestration.dbt_project import generate_docs; print(generate_docs())"

gx-docs: install
	$(PY) -m expectations.docs

clean:
	rm -rf $(VENV) $(VENV)-tools .pytest_cache
