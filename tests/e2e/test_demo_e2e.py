"""`beacon demo` end to end, twice: everything materialises, and the second run adds no row."""

from __future__ import annotations

import os
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

    assert run_demo(**ARGS) == 0
    assert _bronze_counts(root) == first_bronze
    assert _published(root) == first_published
