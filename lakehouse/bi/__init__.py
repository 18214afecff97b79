"""Beacon's BI layer: Apache Superset over the published ``marts.duckdb``, dashboards as code.

Why a separate package with its own virtual environment: Superset pins libraries (SQLAlchemy 1.4,
pandas 2.1, Flask ...) that conflict with the pipeline's, so it lives in a venv of its own under a
cache directory and is driven from here through its CLI and REST API only; nothing in this package
imports Superset. Modules:

* :mod:`lakehouse.bi.settings` - every path, port and credential, from environment variables;
* :mod:`lakehouse.bi.install` - the Superset venv (``uv`` + a URL-free lock) and ``playwright-core``;
* :mod:`lakehouse.bi.server` - offline init, start/stop by pid file, health;
* :mod:`lakehouse.bi.rest` - a small client of Superset's REST API;
* :mod:`lakehouse.bi.specs` / :mod:`lakehouse.bi.builder` - declarative dashboard specs
  (``lakehouse/bi/dashboards/*.yaml``) and the idempotent builder that creates them over REST;
* :mod:`lakehouse.bi.screenshot` - dashboards rendered in headless Debian Chromium;
* :mod:`lakehouse.bi.setup` - the CLI (``python -m lakehouse.bi.setup``, ``make bi``).
"""
