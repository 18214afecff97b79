"""The dbt marts as Dagster assets: one partitioned incremental asset, one for the rest.

* ``dbt_incremental_models``: every dbt model materialised ``incremental`` (selected by config, so
  smart-home ones join automatically), daily-partitioned; a backfill of many days is ONE dbt run over
  the whole window (``BackfillPolicy.single_run()``), since the models re-read a lookback anyway.
* ``dbt_marts``: every other model (tables and views), not partitioned; rebuilt from the
  incremental tables.

Each asset is ONE ``dbt build`` (models + their tests as blocking asset checks), in the DuckDB
writer pool because both write the same private build file (on Spark, the mirror of the built
tables into it; the Spark metastore also takes one writer at a time).
"""

# No `from __future__ import annotations`: Dagster reads the config annotations at runtime.

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets
from pydantic import Field

from lakehouse.engine import EngineName, dbt_target, engine
from orchestration.dbt_args import DEFAULT_LOOKBACK_DAYS, build_dbt_args
from orchestration.dbt_project import DBT_PROJECT_DIR, beacon_dbt_project, dbt_executable
from orchestration.dbt_translator import BeaconDbtTranslator
from orchestration.resources import DAILY_PARTITIONS, DUCKDB_POOL, LakehouseResource

INCREMENTAL_SELECT = "config.materialized:incremental"
UNIT_TESTS_HELP = (
    "Run dbt's unit tests in this build. They check SQL logic on fixed inputs, not the data: "
    "switch off for scheduled production runs when CI runs them (each costs temporary tables on Spark)."
)

DBT_PROJECT = beacon_dbt_project()
TRANSLATOR = BeaconDbtTranslator()
DAILY = DAILY_PARTITIONS


class IncrementalRunConfig(dg.Config):
    """Run config of the partitioned dbt asset."""

    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    full_refresh: bool = False
    unit_tests: bool = Field(default=True, description=UNIT_TESTS_HELP)


class MartsRunConfig(dg.Config):
    """Run config of the non-partitioned marts. ``reference_date`` (YYYY-MM-DD) is the "today" of
    recency, decay and new-visitor rules; empty means the UTC date the run starts (passed to dbt
    explicitly, so the SQL never calls now())."""

    reference_date: str = ""
    full_refresh: bool = False
    unit_tests: bool = Field(default=True, description=UNIT_TESTS_HELP)


@contextmanager
def _data_dir_env(lakehouse: LakehouseResource) -> Iterator[None]:
    """Point dbt (a subprocess inheriting os.environ) at the lakehouse's data root for this call."""
    root = lakehouse.paths.root
    (root / "build").mkdir(parents=True, exist_ok=True)
    previous = os.environ.get("BEACON_DATA_DIR")
    os.environ["BEACON_DATA_DIR"] = str(root)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("BEACON_DATA_DIR", None)
        else:
            os.environ["BEACON_DATA_DIR"] = previous


def reference_date_of(config: MartsRunConfig) -> date:
    return date.fromisoformat(config.reference_date) if config.reference_date else datetime.now(UTC).date()


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    select=INCREMENTAL_SELECT,
    dagster_dbt_translator=TRANSLATOR,
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=DUCKDB_POOL,
    name="dbt_incremental_models",
)
def dbt_incremental_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    lakehouse: LakehouseResource,
    config: IncrementalRunConfig,
) -> Iterator[Any]:
    """Incremental dbt models for the partition window (plus lookback), in one dbt build."""
    args = build_dbt_args(
        context.partition_time_window,
        config.lookback_days,
        config.full_refresh,
        unit_tests=config.unit_tests,
    )
    context.log.info(f"dbt {' '.join(args)}")
    with _data_dir_env(lakehouse):
        yield from dbt.cli(args, context=context).stream()


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    exclude=INCREMENTAL_SELECT,
    dagster_dbt_translator=TRANSLATOR,
    pool=DUCKDB_POOL,
    name="dbt_marts",
)
def dbt_marts(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    lakehouse: LakehouseResource,
    config: MartsRunConfig,
) -> Iterator[Any]:
    """Every non-incremental dbt model (intermediate tables, marts) in one dbt build."""
    args = build_dbt_args(
        None,
        full_refresh=config.full_refresh,
        reference_date=reference_date_of(config),
        unit_tests=config.unit_tests,
    )
    context.log.info(f"dbt {' '.join(args)}")
    with _data_dir_env(lakehouse):
        yield from dbt.cli(args, context=context).stream()


def dbt_resource(name: EngineName | None = None) -> DbtCliResource:
    """dbt for the configured engine (``BEACON_ENGINE``): its command and its target of the one profile.

    The assets do not change with the engine; only the command that runs dbt and the target do.
    """
    name = name or engine()
    return DbtCliResource(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=dbt_executable(name),
        target=dbt_target(name),
    )


defs = dg.Definitions(
    assets=[dbt_incremental_models, dbt_marts],
    resources={"dbt": dbt_resource()},
)
