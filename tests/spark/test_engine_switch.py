"""The one switch: BEACON_ENGINE picks dbt's command and target; nothing else in the graph changes.

Fast tier: no JVM starts here (pure functions and definitions only).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from lakehouse.config import paths
from lakehouse.engine import DEFAULT_SPARK_MASTER, dbt_target, engine, spark_master
from lakehouse.spark.dbt_cli import dbt_command, exit_code
from lakehouse.spark.session import shuffle_partitions, spark_conf
from orchestration.dbt_project import DBT_PROJECT_DIR


def test_engine_defaults_to_duckdb_and_rejects_unknown_values() -> None:
    assert engine({}) == "duckdb"
    assert engine({"BEACON_ENGINE": " Spark "}) == "spark"
    with pytest.raises(ValueError, match=r"BEACON_ENGINE='flink'.*duckdb, spark"):
        engine({"BEACON_ENGINE": "flink"})


def test_spark_master_comes_from_spark_master() -> None:
    assert spark_master({}) == DEFAULT_SPARK_MASTER
    assert spark_master({"SPARK_MASTER": "spark://10.0.0.5:7077"}) == "spark://10.0.0.5:7077"


def test_profile_has_one_target_per_engine_chosen_by_the_switch() -> None:
    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())["beacon"]
    assert set(profile["outputs"]) == {"duckdb", "spark"}
    assert profile["outputs"]["spark"]["method"] == "session"
    assert "BEACON_ENGINE" in profile["target"]
    assert dbt_target("spark") == "spark" and dbt_target("duckdb") == "duckdb"


def test_dbt_resource_follows_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestration.assets.marts import dbt_resource

    duck, spark = dbt_resource("duckdb"), dbt_resource("spark")
    assert Path(duck.dbt_executable).name == "dbt" and duck.target == "duckdb"
    assert Path(spark.dbt_executable).name == "beacon-dbt-spark" and spark.target == "spark"
    monkeypatch.setenv("BEACON_ENGINE", "spark")
    assert dbt_resource().target == "spark"


def _dbt_graph(monkeypatch: pytest.MonkeyPatch, name: str) -> tuple[dict, set]:
    """Every dbt asset (key -> upstream keys, kinds) and asset check, as the engine ``name`` sees them."""
    from dagster_dbt import dbt_assets

    from orchestration.assets.marts import DBT_PROJECT
    from orchestration.dbt_translator import BeaconDbtTranslator

    monkeypatch.setenv("BEACON_ENGINE", name)

    @dbt_assets(manifest=DBT_PROJECT.manifest_path, dagster_dbt_translator=BeaconDbtTranslator())
    def everything(context):  # type: ignore[no-untyped-def]  # never run; Dagster reads no annotation
        yield from ()

    assets = {spec.key: ({d.asset_key for d in spec.deps}, spec.kinds) for spec in everything.specs}
    return assets, {check.key for check in everything.check_specs}


def test_same_asset_graph_on_both_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys, dependencies and checks come from the manifest, not the engine; only the kind says which."""
    duck, duck_checks = _dbt_graph(monkeypatch, "duckdb")
    spark, spark_checks = _dbt_graph(monkeypatch, "spark")
    assert len(duck) >= 30 and len(duck_checks) > 200
    assert set(duck) == set(spark) and duck_checks == spark_checks
    assert all(duck[k][0] == spark[k][0] for k in duck)
    assert {frozenset(kinds) for _, kinds in duck.values()} == {frozenset({"dbt", "duckdb"})}
    assert {frozenset(kinds) for _, kinds in spark.values()} == {frozenset({"dbt", "spark"})}


def test_dbt_wrapper_argument_handling() -> None:
    assert dbt_command(["--no-use-colors", "build", "--select", "x"]) == "build"
    assert dbt_command(["--version"]) == "--version"
    assert dbt_command([]) is None
    assert exit_code(True, None) == 0
    assert exit_code(False, None) == 1
    assert exit_code(False, RuntimeError("no bronze")) == 2


def test_spark_conf_is_loopback_utc_micros_and_under_the_data_dir(tmp_path: Path) -> None:
    conf = spark_conf(paths(tmp_path), "local-cluster[2,1,1024]")
    assert conf["spark.master"] == "local-cluster[2,1,1024]"
    assert conf["spark.driver.host"] == conf["spark.driver.bindAddress"] == "127.0.0.1"
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.sql.parquet.outputTimestampType"] == "TIMESTAMP_MICROS"
    assert conf["spark.sql.warehouse.dir"].startswith(str(tmp_path.resolve()))
    assert (
        str(tmp_path.resolve() / "spark" / "metastore_db")
        in conf["spark.hadoop.javax.jdo.option.ConnectionURL"]
    )


def test_shuffle_partitions_follow_the_cores_of_one_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    assert shuffle_partitions("local-cluster[2,1,1024]") == 2
    assert shuffle_partitions("local-cluster[3, 2, 2048]") == 6
    assert shuffle_partitions("local[4]") == 4 and shuffle_partitions("local[2,3]") == 2
    assert shuffle_partitions("local") == 1 and shuffle_partitions("local[*]") == os.cpu_count()
    assert shuffle_partitions("spark://10.0.0.5:7077") == 200
    monkeypatch.setenv("BEACON_SPARK_SHUFFLE_PARTITIONS", "16")
    assert (
        spark_conf(paths(Path("/tmp/x")), "local-cluster[2,1,1024]")["spark.sql.shuffle.partitions"] == "16"
    )
    monkeypatch.delenv("BEACON_SPARK_SHUFFLE_PARTITIONS")
    assert spark_conf(paths(Path("/tmp/x")), "local-cluster[2,1,1024]")["spark.sql.shuffle.partitions"] == "2"
