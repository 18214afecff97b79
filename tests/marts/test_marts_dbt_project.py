"""The dbt project as a fresh clone sees it: the manifest is parsed locally when missing, docs build."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from orchestration.dbt_project import DBT_PROJECT_DIR, ensure_manifest, generate_docs, manifest_is_stale


@pytest.mark.slow
def test_missing_manifest_is_parsed_without_network(tmp_path: Path) -> None:
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    assert manifest_is_stale(project)
    manifest = ensure_manifest(project)
    nodes = json.loads(manifest.read_text())["nodes"]
    models = {n["name"] for n in nodes.values() if n["resource_type"] == "model"}
    assert {"stg_clickstream__events", "int_clickstream__sessions", "fct_sessions", "mart_rfm"} <= models
    assert not manifest_is_stale(project)
    # touching a model makes it stale again
    model = project / "models" / "marts" / "clickstream" / "fct_sessions.sql"
    later = manifest.stat().st_mtime + 5
    os.utime(model, (later, later))
    assert manifest_is_stale(project)


@pytest.mark.slow
def test_docs_generate_into_the_data_dir(scenario_full_build: Path) -> None:
    docs = generate_docs(scenario_full_build)
    assert docs == scenario_full_build / "dbt_docs"
    catalog = json.loads((docs / "catalog.json").read_text())
    assert any(key.endswith(".fct_sessions") for key in catalog["nodes"])
    assert (docs / "index.html").stat().st_size > 1000
