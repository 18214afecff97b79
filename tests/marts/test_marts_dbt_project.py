"""The dbt project as a fresh clone sees it: the manifest is parsed locally when missing, docs build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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


PARSE_AND_REPORT = """
import json, sys
from pathlib import Path
from orchestration.dbt_project import ensure_manifest
manifest = ensure_manifest(Path(sys.argv[1]))
json.loads(manifest.read_text())
print(manifest.stat().st_mtime_ns)
"""


@pytest.mark.slow
def test_processes_starting_together_parse_once_into_a_whole_manifest(tmp_path: Path) -> None:
    """xdist workers and code servers import the definitions at the same moment on a fresh clone:
    concurrent ``dbt parse`` runs once wrote one corrupt manifest that every later import failed on."""
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PARSE_AND_REPORT, str(project)],
            cwd=Path(__file__).resolve().parents[2],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outputs]
    # one parse (dbt logs each invocation), and every process saw the same file
    assert (project / "logs" / "dbt.log").read_text().count("Running with dbt=") == 1
    assert len({out.strip() for out, _ in outputs}) == 1
    # parsed in a private folder, moved into place whole: nothing else of the parse is left
    assert sorted(p.name for p in (project / "target").iterdir()) == [".manifest.lock", "manifest.json"]


@pytest.mark.slow
def test_docs_generate_into_the_data_dir(scenario_full_build: Path) -> None:
    docs = generate_docs(scenario_full_build)
    assert docs == scenario_full_build / "dbt_docs"
    catalog = json.loads((docs / "catalog.json").read_text())
    assert any(key.endswith(".fct_sessions") for key in catalog["nodes"])
    assert (docs / "index.html").stat().st_size > 1000
