"""The suites as Dagster asset checks: clean data passes and downstream runs; mart checks gate publishing.

Every error check failing and blocking its real downstream asset is tested case by case in
``test_blocking_every_check.py``.

A tiny asset graph stands in for the real one: a partitioned bronze-like asset writes a real
Delta table and landing-ledger rows for its delivery day, a downstream asset depends on it, and
the checks come from the same factories the code location uses.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import quality_fixtures as qf

from expectations.marts import build_file
from lakehouse import storage
from lakehouse.landing.schemas import LEDGER_SCHEMA, LEDGER_TABLE, cast_to
from orchestration.assets import quality
from orchestration.resources import LakehouseResource

PARTITIONS = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone="UTC")
DAY = qf.DAY
DOWNSTREAM = dg.AssetKey(["marts", "downstream_of_bronze"])


def _ledger_row(table: str, source_file: str, lines: int, landed: int) -> pl.DataFrame:
    row = {c: None for c in LEDGER_SCHEMA.names()}
    row.update(
        source="test",
        contract=table,
        source_file=source_file,
        delivery_date=DAY,
        status="landed",
        lines_read=lines,
        rows_landed=landed,
        rows_quarantined=0,
        duplicates=0,
        skipped=0,
        table_name=table,
        landing_run_id="run-1",
        landed_at=qf.LANDED_AT,
    )
    return pl.DataFrame([row], schema=LEDGER_SCHEMA)


def _graph(table: str, frame: pl.DataFrame, ledger_extra: int = 0) -> list[object]:
    key = dg.AssetKey(["bronze", table])

    @dg.asset(key=key, partitions_def=PARTITIONS)
    def bronze(lakehouse: LakehouseResource) -> None:
        root = lakehouse.paths.root
        storage.write_partitions(root / "delta" / "bronze" / table, frame, ["event_date"])
        source_file = frame["_source_file"][0]
        storage.write_partitions(
            root / "delta" / "bronze" / LEDGER_TABLE,
            cast_to(
                _ledger_row(table, source_file, frame.height + ledger_extra, frame.height), LEDGER_SCHEMA
            ),
        )

    @dg.asset(key=DOWNSTREAM, deps=[key], partitions_def=PARTITIONS)
    def downstream() -> None:
        return None

    return [bronze, downstream, quality.bronze_quality_checks(key, table, PARTITIONS)]


def _run(defs: list[object], root: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        defs,  # type: ignore[arg-type]
        partition_key=DAY.isoformat(),
        resources={"lakehouse": LakehouseResource(data_dir=str(root))},
        raise_on_error=False,
    )


def _evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _materialized(result: dg.ExecuteInProcessResult) -> set[dg.AssetKey]:
    return {e.asset_key for e in result.get_asset_materialization_events()}


@pytest.mark.parametrize(
    "table", ["clickstream_events", pytest.param("sensor_readings", marks=pytest.mark.slow)]
)
def test_clean_data_passes_and_downstream_runs(table: str, tmp_path: Path) -> None:
    clean = qf.clickstream_frame() if table == "clickstream_events" else qf.sensor_frame()
    result = _run(_graph(table, clean), tmp_path / "data")
    assert result.success
    evals = _evaluations(result)
    assert evals and all(e.passed for e in evals.values()), {
        n: e.metadata for n, e in evals.items() if not e.passed
    }
    assert {"daily_volume_in_band", "null_rate_stable"} <= set(evals)
    assert evals["daily_volume_in_band"].severity == dg.AssetCheckSeverity.WARN
    assert DOWNSTREAM in _materialized(result)
    assert evals["keys_not_null"].metadata["rows_validated"].value == clean.height


def test_failing_mart_check_blocks_publishing(tmp_path: Path) -> None:
    root = tmp_path / "data"
    storage.write_partitions(
        root / "delta" / "bronze" / "clickstream_events", qf.revenue_bronze_frame(), ["event_date"]
    )
    published = dg.AssetKey(["published", "marts_duckdb"])

    @dg.asset(key=["marts", "fct_sessions"])
    def sessions() -> None:
        build_file(root).parent.mkdir(parents=True, exist_ok=True)
        qf.write_build(
            build_file(root),
            "update marts.fct_sessions set duration_seconds = 100000 "
            "where session_id = (select min(session_id) from marts.fct_sessions)",
        )

    @dg.asset(key=published, deps=[sessions])
    def publish() -> None:
        return None

    checks = [
        c
        for c in quality.mart_quality_checks()
        if dg.AssetKey(["marts", "fct_sessions"]) in {k.asset_key for k in c.check_keys}
    ]
    result = dg.materialize(
        [sessions, publish, *checks],
        resources={"lakehouse": LakehouseResource(data_dir=str(root))},
        raise_on_error=False,
    )
    evals = _evaluations(result)
    assert not evals["session_duration_valid"].passed
    assert "100000" in evals["session_duration_valid"].metadata["failing_rows"].value
    assert evals["purchases_in_sessions"].passed and evals["revenue_reconciles_with_bronze"].passed
    assert published not in _materialized(result)


def test_code_location_checks_and_freshness() -> None:
    specs = {spec.key: spec for checks in quality.defs.asset_checks for spec in checks.check_specs}
    bronze = dg.AssetKey(["bronze", "clickstream_events"])
    assert specs[dg.AssetCheckKey(bronze, "keys_not_null")].blocking
    assert not specs[dg.AssetCheckKey(bronze, "daily_volume_in_band")].blocking
    assert specs[
        dg.AssetCheckKey(dg.AssetKey(["bronze", "sensor_readings"]), "sensor_values_physical")
    ].partitions_def
    assert dg.AssetCheckKey(dg.AssetKey(["marts", "dim_users"]), "revenue_reconciles_with_bronze") in specs

    @dg.asset(key=["bronze", "clickstream_events"])
    def b() -> None: ...

    @dg.asset(key=["marts", "fct_sessions"], deps=[b])
    def m() -> None: ...

    @dg.asset(key=["published", "marts_duckdb"], deps=[m])
    def p() -> None: ...

    defs = quality.with_freshness_policies(dg.Definitions(assets=[b, m, p]))
    graph = defs.resolve_asset_graph()
    policies = {k: graph.get(k).freshness_policy for k in graph.get_all_asset_keys()}
    assert policies[dg.AssetKey(["bronze", "clickstream_events"])] == quality.BRONZE_FRESHNESS
    assert policies[dg.AssetKey(["marts", "fct_sessions"])] == quality.MARTS_FRESHNESS
    assert policies[dg.AssetKey(["published", "marts_duckdb"])] == quality.MARTS_FRESHNESS
    assert quality.BRONZE_FRESHNESS.fail_window.to_timedelta() == dt.timedelta(hours=26)
