"""The code location `make ui` loads: every asset described, grouped, owned and kinded; writers pooled."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.resources import DAILY_PARTITIONS, DUCKDB_POOL


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from orchestration.definitions import defs

    dg.Definitions.validate_loadable(defs)
    return defs


def test_every_layer_is_in_the_code_location(defs: dg.Definitions) -> None:
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    for expected in (
        "bronze/clickstream_events",
        "bronze/sensor_readings",
        "bronze/quarantine",
        "staging/stg_clickstream__events",
        "intermediate/int_clickstream__sessions",
        "marts/fct_sessions",
        "marts/mart_rfm",
        "marts/fct_room_occupancy_hourly",
        "ml/recommender_model",
        "scores/churn_risk",
        "published/marts_duckdb",
    ):
        assert expected in keys
    jobs = {j.name for j in defs.resolve_all_job_defs()}
    assert {"bronze_landing_job", "beacon_daily_job", "ml_training_job", "bronze_compaction_job"} <= jobs
    schedules = {s.name for s in defs.schedules or []}
    assert "beacon_daily_job_schedule" in schedules or any("daily" in s for s in schedules)


def test_assets_are_documented_grouped_owned_and_kinded(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert node.description, f"{name} has no description"
        assert node.group_name and node.group_name != "default", f"{name} has no group"
        assert node.owners, f"{name} has no owner"
        assert node.kinds, f"{name} has no kinds"


def test_every_duckdb_writer_is_in_the_pool(defs: dg.Definitions) -> None:
    writers = 0
    for assets_def in defs.resolve_asset_graph().assets_defs:
        keys = {k.path[0] for k in assets_def.keys}
        if keys & {"staging", "intermediate", "marts", "ml", "scores", "published"}:
            writers += 1
            pools = {node.pool for node in assets_def.node_def.iterate_op_defs()}
            assert pools == {DUCKDB_POOL}, f"{sorted(keys)} writes DuckDB outside the pool: {pools}"
    assert writers >= 5


def test_partitioned_assets_share_one_daily_partitioning(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    partitioned = {graph.get(k).partitions_def for k in graph.get_all_asset_keys()} - {None}
    assert partitioned == {DAILY_PARTITIONS}


def test_publication_waits_for_every_mart_and_score(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    published = graph.get(dg.AssetKey(["published", "marts_duckdb"]))
    upstream = {k.path[0] for k in published.parent_keys}
    assert upstream == {"marts", "scores"}
    marts = {k for k in graph.get_all_asset_keys() if k.path[0] == "marts"}
    assert marts <= set(published.parent_keys)


def test_dbt_tests_are_blocking_checks(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    sessions = dg.AssetKey(["marts", "fct_sessions"])
    checks = [graph.get_check_spec(k) for k in graph.asset_check_keys if k.asset_key == sessions]
    assert checks, "fct_sessions has no asset checks"
    assert all(c.blocking for c in checks if c.name.startswith(("unique", "not_null")))


def test_daily_job_runs_bronze_checks_before_the_marts(defs: dg.Definitions) -> None:
    """Blocking checks hold back only steps of their own run: the daily run must contain bronze."""
    job = defs.resolve_job_def("beacon_daily_job")
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert {"bronze/clickstream_events", "marts/fct_sessions", "published/marts_duckdb"} <= keys
    checks = {(k.asset_key.to_user_string(), k.name) for k in job.asset_layer.asset_graph.asset_check_keys}
    assert ("bronze/clickstream_events", "keys_not_null") in checks


@pytest.mark.slow
def test_code_location_loads_under_dagster_dev_without_dbt_on_path() -> None:
    """`make ui` runs code servers with the venv's interpreter but not its PATH: nothing may need `dbt` on PATH."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PATH": "/usr/bin:/bin", "DAGSTER_IS_DEV_CLI": "1"}
    done = subprocess.run(
        [sys.executable, "-c", "import orchestration.definitions as d; print(len(d.defs.assets))"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.strip().splitlines()[-1]) > 0
