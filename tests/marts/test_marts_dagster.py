"""The dbt assets in Dagster: graph shape, a partition materialised in process, blocking checks."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from marts_bronze_fixture import clickstream_frame, write_clickstream, write_empty_side_tables
from marts_dbt_runner import CLICKSTREAM_TABLES, read_table
from marts_scenario import scenario_events

from orchestration.assets import marts
from orchestration.resources import LakehouseResource

SESSIONS = dg.AssetKey(["intermediate", "int_clickstream__sessions"])
STAGED = dg.AssetKey(["staging", "stg_clickstream__events"])
# every non-incremental clickstream model (relationship tests need both of their parents)
CLICKSTREAM_MARTS = [
    dg.AssetKey(t.split("."))
    for t in CLICKSTREAM_TABLES
    if t not in ("staging.stg_clickstream__events", "intermediate.int_clickstream__sessions")
]
CLICKSTREAM_MARTS.append(dg.AssetKey(["intermediate", "int_clickstream__events_stitched"]))


def _graph() -> dg.AssetGraph:
    defs = dg.Definitions.merge(marts.defs, dg.Definitions(resources={"lakehouse": LakehouseResource()}))
    return defs.resolve_asset_graph()


def test_definitions_load_with_models_checks_and_partitions() -> None:
    graph = _graph()
    keys = graph.get_all_asset_keys()
    for key in [STAGED, SESSIONS, *CLICKSTREAM_MARTS, dg.AssetKey(["marts", "mart_rfm"])]:
        assert key in keys, key
    staged = graph.get(STAGED)
    assert isinstance(staged.partitions_def, dg.DailyPartitionsDefinition)
    assert graph.get(dg.AssetKey(["marts", "fct_sessions"])).partitions_def is None
    assert dg.AssetKey(["bronze", "clickstream_events"]) in staged.parent_keys
    assert staged.group_name == "staging" and graph.get(SESSIONS).group_name == "intermediate"
    assert staged.kinds == {"dbt", "duckdb"} and staged.owners == ["team:analytics-engineering"]
    assert "Bot rule" in (staged.description or "")
    checks = [k for k in graph.asset_check_keys if k.asset_key == SESSIONS]
    assert {
        "unique_int_clickstream__sessions_session_id",
        "not_null_int_clickstream__sessions_session_id",
    } <= {c.name for c in checks}
    assets_def = graph.get(SESSIONS).assets_def
    spec = next(s for s in assets_def.check_specs if s.name == "unique_int_clickstream__sessions_session_id")
    assert spec.blocking
    assert assets_def.backfill_policy == dg.BackfillPolicy.single_run()


def _resources(root: Path) -> dict:
    return {"dbt": marts.dbt_resource(), "lakehouse": LakehouseResource(data_dir=str(root))}


@pytest.fixture
def scenario_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    write_clickstream(root, scenario_events())
    write_empty_side_tables(root)
    return root


@pytest.mark.slow
def test_materialise_a_partition_then_the_marts(scenario_root: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [marts.dbt_incremental_models],
        partition_key="2026-01-06",
        resources=_resources(scenario_root),
        instance=instance,
    )
    assert result.success
    materialised = {e.asset_key for e in result.get_asset_materialization_events()}
    assert {STAGED, SESSIONS} <= materialised
    evaluations = result.get_asset_check_evaluations()
    assert evaluations and all(e.passed for e in evaluations)
    assert {e.asset_key for e in evaluations} >= {STAGED, SESSIONS}
    sessions = read_table(scenario_root, "intermediate.int_clickstream__sessions")
    assert sessions.height > 0
    marts_result = dg.materialize(
        [marts.dbt_marts],
        selection=CLICKSTREAM_MARTS,
        resources=_resources(scenario_root),
        instance=instance,
        run_config={"ops": {"dbt_marts": {"config": {"reference_date": "2026-01-10"}}}},
    )
    assert marts_result.success
    assert {e.asset_key for e in marts_result.get_asset_materialization_events()} == set(CLICKSTREAM_MARTS)
    assert read_table(scenario_root, "marts.fct_sessions").height == sessions.height


@pytest.mark.slow
def test_a_failing_error_test_blocks_downstream(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    bad = clickstream_frame(
        [
            {
                "device": "d1",
                "occurred_at": "2026-01-06T10:00:00",
                "event_type": "page_view",
                "page_url": "https://s/",
            },
            {"device": "d1", "occurred_at": "2026-01-06T10:01:00", "event_type": "teleport"},
        ]
    )
    write_clickstream(root, bad)
    write_empty_side_tables(root)
    result = dg.materialize(
        [marts.dbt_incremental_models],
        partition_key="2026-01-06",
        resources=_resources(root),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [
        (e.asset_key, e.check_name.startswith("accepted_values_stg_clickstream__events_event_type"))
        for e in failed
    ] == [(STAGED, True)]
    assert failed[0].severity == dg.AssetCheckSeverity.ERROR
    materialised = {e.asset_key for e in result.get_asset_materialization_events()}
    assert STAGED in materialised and SESSIONS not in materialised
    assert (
        read_table(root, "staging.stg_clickstream__events").filter(pl.col("event_type") == "teleport").height
        == 1
    )
