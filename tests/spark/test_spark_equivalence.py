"""The same Dagster assets on Spark and on DuckDB give the same marts.

One lakehouse with a real bronze history (two landing runs, compaction, an overwrite, a delete:
:mod:`lakehouse.generator.history`) is copied to a second data root. Each root runs the SAME dbt
assets through Dagster (the partitioned incremental models with a full refresh, then the other
models and their blocking checks): one with the DuckDB engine, one with the Spark engine on a
``local-cluster`` of two executor processes. Every table dbt built must be equal: row counts and an
order-free checksum of every column (:mod:`lakehouse.spark.equivalence`), Spark's side read back
from the Delta tables it exported. Spark's marts are then published like DuckDB's.

Marked ``spark`` (needs Java; run alone with ``pytest -m spark``) and ``slow``.
"""

from __future__ import annotations

import json
import os
import shutil

import dagster as dg
import duckdb
import pytest

from lakehouse import storage
from lakehouse.config import DBT_SCHEMAS, DataPaths, paths
from lakehouse.generator.history import HistorySummary, build_history
from lakehouse.publish import build_db_path
from lakehouse.spark.dbt_cli import RUN_FACTS
from lakehouse.spark.equivalence import (
    dbt_relations,
    differences,
    export_differences,
    fingerprint,
)
from ml import sources
from orchestration.assets import marts
from orchestration.assets.publish import build_publish_asset
from orchestration.pipeline import mart_keys
from orchestration.resources import LakehouseResource

pytestmark = [pytest.mark.spark, pytest.mark.slow]

KEY = "beacon-test-key-0123456789abcdef"
DAYS = 14
LAST_DAY = "2026-01-14"
REFERENCE_DATE = "2026-01-16"
CLUSTER = "local-cluster[2,1,1024]"


def _materialise(root: DataPaths, engine: str) -> list[dg.ExecuteInProcessResult]:
    """Both dbt assets on one engine. dbt's unit tests (fixed inputs, not data) are left out: they
    prove nothing about equivalence and cost a minute on a cluster; tests/marts runs them."""
    resources = {"dbt": marts.dbt_resource(engine), "lakehouse": LakehouseResource(data_dir=str(root.root))}
    instance = dg.DagsterInstance.ephemeral()
    incremental = dg.materialize(
        [marts.dbt_incremental_models],
        partition_key=LAST_DAY,
        resources=resources,
        instance=instance,
        run_config={
            "ops": {"dbt_incremental_models": {"config": {"full_refresh": True, "unit_tests": False}}}
        },
    )
    rest = dg.materialize(
        [marts.dbt_marts],
        resources=resources,
        instance=instance,
        run_config={
            "ops": {"dbt_marts": {"config": {"reference_date": REFERENCE_DATE, "unit_tests": False}}}
        },
    )
    return [incremental, rest]


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[DataPaths, DataPaths, HistorySummary, list]:
    base = tmp_path_factory.mktemp("equivalence")
    duck, spark = paths(base / "duckdb"), paths(base / "spark")
    history = build_history(duck, KEY, users=120, homes=2, days=DAYS)
    shutil.copytree(duck.delta / "bronze", spark.delta / "bronze")
    previous = os.environ.get("SPARK_MASTER")
    os.environ["SPARK_MASTER"] = CLUSTER
    try:
        duck_results = _materialise(duck, "duckdb")
        spark_results = _materialise(spark, "spark")
    finally:
        if previous is None:
            os.environ.pop("SPARK_MASTER", None)
        else:
            os.environ["SPARK_MASTER"] = previous
    assert all(r.success for r in duck_results)
    return duck, spark, history, spark_results


def _built_tables(root: DataPaths) -> list[str]:
    with duckdb.connect(str(build_db_path(root.build)), read_only=True) as con:
        return dbt_relations(con)


def test_the_spark_assets_materialise_with_their_checks(builds) -> None:
    _, _, _, spark_results = builds
    assert all(r.success for r in spark_results)
    materialised = {e.asset_key for r in spark_results for e in r.get_asset_materialization_events()}
    assert set(mart_keys()) <= materialised
    checks = [e for r in spark_results for e in r.get_asset_check_evaluations()]
    assert len(checks) > 100 and all(e.passed for e in checks), [e.check_name for e in checks if not e.passed]


def test_spark_ran_on_separate_executor_processes(builds) -> None:
    _, spark, history, _ = builds
    facts = json.loads((spark.spark / RUN_FACTS).read_text())
    assert facts["master"] == CLUSTER and facts["success"] is True
    executors = set(facts["executor_pids"])
    assert len(executors) >= 2
    assert not executors & {facts["driver_pid"], facts["python_pid"], os.getpid()}
    # Spark read the versions delta-rs lists as current, after the whole history.
    assert facts["bronze_versions"] == history.versions


def test_every_table_equals_the_duckdb_build(builds) -> None:
    duck, spark, history, _ = builds
    assert history.rows_removed_by_overwrite > 0 and history.rows_removed_by_delete > 0
    tables = _built_tables(duck)
    assert len(tables) >= 30
    exported = sorted(
        f"{schema}.{t.name}"
        for schema in DBT_SCHEMAS
        for t in (spark.delta / schema).iterdir()
        if storage.table_exists(t)
    )
    assert exported == tables
    with duckdb.connect(str(build_db_path(duck.build)), read_only=True) as con:
        problems = export_differences(con, spark)
    assert not problems, json.dumps(problems, indent=1)


def test_model_training_reads_the_same_inputs_on_both_engines(builds) -> None:
    """ML reads the build file on either engine: on Spark it is mirrored from the Delta exports."""
    duck, spark, _, _ = builds
    tables = _built_tables(duck)
    assert _built_tables(spark) == tables  # the view model (events stitched) mirrored as a table
    with (
        duckdb.connect(str(build_db_path(duck.build)), read_only=True) as expected,
        duckdb.connect(str(build_db_path(spark.build)), read_only=True) as actual,
    ):
        unequal = [t for t in tables if differences(fingerprint(expected, t), fingerprint(actual, t))]
    assert unequal == []
    keys = ["user_id", "item_id", "occurred_at", "weight"]
    duck_inputs = sources.read_interactions(build_db_path(duck.build)).sort(keys)
    spark_inputs = sources.read_interactions(build_db_path(spark.build)).sort(keys)
    assert duck_inputs.height > 1000 and spark_inputs.equals(duck_inputs)


def test_the_spark_marts_publish_like_duckdb_ones(builds) -> None:
    duck, spark, _, _ = builds
    publish = build_publish_asset(mart_keys(), schemas=("marts",), automation_condition=None)
    result = dg.materialize([publish], resources={"lakehouse": LakehouseResource(data_dir=str(spark.root))})
    assert result.success
    with duckdb.connect(str(spark.marts), read_only=True) as published:
        sessions = published.execute("select count(*) from main.fct_sessions").fetchall()[0][0]
    with duckdb.connect(str(build_db_path(duck.build)), read_only=True) as con:
        assert sessions == con.execute("select count(*) from marts.fct_sessions").fetchall()[0][0] > 0
