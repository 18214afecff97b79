"""`beacon demo` end to end, twice: everything materialises, and the second run adds no row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pytest

from lakehouse.config import paths
from lakehouse.storage import active_files

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ARGS = {"users": 300, "homes": 3, "days": 40, "seed": 11}


def _bronze_counts(root: Path) -> dict[str, int]:
    p = paths(root)
    return {
        t: int(pc.sum(active_files(p.table("bronze", t))["num_records"]).as_py() or 0)
        for t in ("clickstream_events", "sensor_readings", "quarantine")
    }


def _published(root: Path) -> dict[str, int]:
    with duckdb.connect(str(paths(root).marts), read_only=True) as con:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name <> '_beacon'"
        ).fetchall()
        return {f"{s}.{t}": con.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()[0] for s, t in tables}


READER = """
import json, sys, time, duckdb
path, stop, out = sys.argv[1:4]
con = duckdb.connect(path, read_only=True)          # a BI tool's connection, held open throughout
queries, errors = 0, []
while True:
    try:
        con.execute("SELECT count(*) FROM fct_sessions").fetchone()
        con.execute("SELECT count(*) FROM scores.churn_risk").fetchone()
        queries += 1
    except Exception as exc:
        errors.append(repr(exc))
    try:
        open(stop).close()
        break
    except FileNotFoundError:
        time.sleep(0.2)
json.dump({"queries": queries, "errors": errors[:5]}, open(out, "w"))
"""


def test_demo_builds_everything_and_is_idempotent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "data"
    monkeypatch.setenv("BEACON_DATA_DIR", str(root))
    monkeypatch.setenv("DAGSTER_HOME", str(root / "dagster"))
    from orchestration.demo import run_demo

    assert run_demo(**ARGS) == 0
    first_bronze, first_published = _bronze_counts(root), _published(root)
    assert first_bronze["clickstream_events"] > 5_000 and first_bronze["sensor_readings"] > 10_000
    for table in (
        "main.fct_sessions",
        "main.mart_rfm",
        "main.fct_room_occupancy_hourly",
        "scores.churn_risk",
        "scores.user_recommendations",
    ):
        assert first_published.get(table, 0) > 0, f"{table} missing or empty in the published file"
    assert (root / "dagster" / "dagster.yaml").exists()
    assert not (Path(os.getcwd()) / "mlruns").exists()

    # The second full run republishes while a reader in another process holds the file open.
    stop, out = tmp_path / "stop", tmp_path / "reader.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(paths(root).marts), str(stop), str(out)])
    try:
        time.sleep(2)
        assert run_demo(**ARGS) == 0
    finally:
        stop.touch()
        try:
            reader.wait(timeout=60)
        finally:
            if reader.poll() is None:
                reader.kill()
    seen = json.loads(out.read_text())
    assert seen["errors"] == [] and seen["queries"] > 10, seen
    assert _bronze_counts(root) == first_bronze
    assert _published(root) == first_published
