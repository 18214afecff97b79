"""The ``published/marts_duckdb`` Dagster asset: runs after passing blocking checks, never after failing ones."""

import contextlib
import datetime as dt
import importlib.metadata
import json
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from deltalake import write_deltalake

from lakehouse.publish import build_db_path, previous_path, publication_run_id
from orchestration.assets.publish import DAILY_AFTER_CHECKS, PUBLISHED_MARTS_KEY, build_publish_asset
from orchestration.resources import DUCKDB_POOL, LakehouseResource

pytestmark = pytest.mark.filterwarnings("ignore::dagster.BetaWarning")

FCT = dg.AssetKey(["marts", "fct_orders"])


class OrdersConfig(dg.Config):
    tag: str
    negative_amounts: int = 0


@dg.asset(key=FCT)
def fct_orders(config: OrdersConfig, lakehouse: LakehouseResource) -> None:
    """Stands in for a dbt mart model: (re)builds marts.fct_orders in the private build file."""
    build = build_db_path(lakehouse.paths.build)
    build.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(duckdb.connect(str(build))) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS staging")
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        con.execute("CREATE OR REPLACE TABLE staging.stg_orders AS SELECT range AS order_id FROM range(100)")
        con.execute(
            "CREATE OR REPLACE TABLE marts.fct_orders AS SELECT order_id, "
            "CASE WHEN order_id < $bad THEN -1.0 ELSE order_id * 2.5 END AS amount, $tag AS run_tag "
            "FROM staging.stg_orders",
            {"bad": config.negative_amounts, "tag": config.tag},
        )


@dg.asset_check(asset=FCT, blocking=True)
def fct_orders_amount_not_negative(lakehouse: LakehouseResource) -> dg.AssetCheckResult:
    """Stands in for a dbt test turned blocking asset check."""
    with contextlib.closing(duckdb.connect(str(build_db_path(lakehouse.paths.build)), read_only=True)) as con:
        bad = con.execute("SELECT count(*) FROM marts.fct_orders WHERE amount < 0").fetchone()[0]
    return dg.AssetCheckResult(passed=bad == 0, metadata={"negative_amounts": bad})


def _run(data_dir: Path, tag: str, negative_amounts: int = 0) -> dg.ExecuteInProcessResult:
    publish = build_publish_asset([FCT])
    return dg.materialize(
        [fct_orders, fct_orders_amount_not_negative, publish],
        resources={"lakehouse": LakehouseResource(data_dir=str(data_dir))},
        run_config={
            "ops": {"marts__fct_orders": {"config": {"tag": tag, "negative_amounts": negative_amounts}}}
        },
        raise_on_error=False,
    )


def _published_tags(db: Path) -> list[str]:
    with contextlib.closing(duckdb.connect(str(db), read_only=True)) as con:
        return [r[0] for r in con.execute("SELECT DISTINCT run_tag FROM fct_orders").fetchall()]


def test_asset_definition() -> None:
    asset = build_publish_asset([FCT, dg.AssetKey(["marts", "dim_users"])], schemas=("marts", "scores"))
    spec = asset.specs_by_key[PUBLISHED_MARTS_KEY]
    assert asset.keys == {PUBLISHED_MARTS_KEY}
    assert {d.asset_key for d in spec.deps} == {FCT, dg.AssetKey(["marts", "dim_users"])}
    assert spec.group_name == "publish"
    assert spec.kinds == {"duckdb"}
    assert spec.owners == ["team:data-platform"]
    assert "marts, scores" in (spec.description or "")
    assert "published as main, scores" in (spec.description or "")
    assert asset.node_def.pool == DUCKDB_POOL
    assert spec.automation_condition is DAILY_AFTER_CHECKS
    assert "all_deps_blocking_checks_passed" in str(DAILY_AFTER_CHECKS)
    assert (
        build_publish_asset([FCT], automation_condition=None)
        .specs_by_key[PUBLISHED_MARTS_KEY]
        .automation_condition
        is None
    )
    with pytest.raises(ValueError):
        build_publish_asset([])


def test_publishes_after_passing_checks_and_keeps_last_good_file_when_a_check_fails(data_dir: Path) -> None:
    # A bronze table so the publication records which Delta version the marts came from.
    write_deltalake(
        str(data_dir / "delta" / "bronze" / "clickstream_events"), pl.DataFrame({"x": [1]}).to_arrow()
    )
    published = data_dir / "marts.duckdb"

    good = _run(data_dir, "good-1")
    assert good.success
    mats = good.asset_materializations_for_node("published__marts_duckdb")
    assert len(mats) == 1
    meta = mats[0].metadata
    assert meta["tables"].value == ["main.fct_orders"]
    assert meta["row_counts"].value == {"main.fct_orders": 100}
    assert meta["source_tables"].value == {"main.fct_orders": "marts.fct_orders"}
    assert meta["path"].value == str(published)
    assert meta["bytes"].value == published.stat().st_size
    assert meta["previous_kept"].value is False
    assert meta["storage_version"].value == "v1.0.0"
    assert publication_run_id(published) == good.run_id
    with contextlib.closing(duckdb.connect(str(published), read_only=True)) as con:
        recorded = json.loads(
            con.execute("SELECT any_value(metadata) FROM _beacon.publication").fetchone()[0]
        )
        schemas = {
            r[0]
            for r in con.execute(
                "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()"
            ).fetchall()
        }
    assert recorded["dbt_core_version"] == importlib.metadata.version("dbt-core")
    assert recorded["deltalake_version"] == importlib.metadata.version("deltalake")
    assert recorded["delta_version_at_publish.bronze.clickstream_events"] == "0"
    assert schemas == {"main", "_beacon"}  # staging stays private; marts is published as main
    last_good = published.read_bytes()

    bad = _run(data_dir, "bad-2", negative_amounts=3)
    assert not bad.success
    checks = bad.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("fct_orders_amount_not_negative", False)]
    assert bad.asset_materializations_for_node("published__marts_duckdb") == []
    assert published.read_bytes() == last_good
    assert publication_run_id(published) == good.run_id
    assert _published_tags(published) == ["good-1"]
    assert not previous_path(published).exists()

    fixed = _run(data_dir, "good-3")
    assert fixed.success
    meta = fixed.asset_materializations_for_node("published__marts_duckdb")[0].metadata
    assert meta["previous_kept"].value is True
    assert publication_run_id(published) == fixed.run_id
    assert _published_tags(published) == ["good-3"]
    assert publication_run_id(previous_path(published)) == good.run_id


def _latest_daily_tick(now: dt.datetime) -> dt.datetime:
    tick = now.replace(hour=6, minute=0, second=0, microsecond=0)
    return tick if tick <= now else tick - dt.timedelta(days=1)


@pytest.mark.parametrize(("negative_amounts", "requested"), [(0, 1), (3, 0)])
def test_daily_automation_waits_for_passing_blocking_checks(
    data_dir: Path, negative_amounts: int, requested: int
) -> None:
    """Across the daily tick, publishing is requested only when the marts' blocking checks passed."""
    publish = build_publish_asset([FCT])
    assets = [fct_orders, fct_orders_amount_not_negative, publish]
    defs = dg.Definitions(assets=assets, resources={"lakehouse": LakehouseResource(data_dir=str(data_dir))})
    instance = dg.DagsterInstance.ephemeral()
    tick = _latest_daily_tick(dt.datetime.now(dt.UTC))
    before = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=tick - dt.timedelta(minutes=1)
    )
    assert before.total_requested == 0
    # The marts (and their check) run after the tick, as the nightly dbt build would; publish is not selected.
    run = dg.materialize(
        assets,
        instance=instance,
        selection=[FCT],
        resources={"lakehouse": LakehouseResource(data_dir=str(data_dir))},
        run_config={
            "ops": {"marts__fct_orders": {"config": {"tag": "auto", "negative_amounts": negative_amounts}}}
        },
        raise_on_error=False,
    )
    assert [c.passed for c in run.get_asset_check_evaluations()] == [negative_amounts == 0]
    after = dg.evaluate_automation_conditions(
        defs=defs,
        instance=instance,
        cursor=before.cursor,
        evaluation_time=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1),
    )
    assert after.get_num_requested(PUBLISHED_MARTS_KEY) == requested
