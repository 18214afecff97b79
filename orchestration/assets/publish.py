"""The ``published/marts_duckdb`` asset: the BI-facing ``marts.duckdb``, swapped in after checks pass.

This module only offers a factory: which mart assets the publication depends on is known from the
dbt manifest, which the lead wires in (``build_publish_asset(deps=[...mart keys...])``). The upstream
dbt tests are BLOCKING asset checks, so Dagster does not run this step when any of them failed in the
run: the last good publication stays in place (see :mod:`lakehouse.publish` for the swap itself).

Names: the build's ``marts`` schema is published as the file's default schema ``main``
(:func:`lakehouse.publish.published_name`), so BI queries ``fct_sessions`` or ``main.fct_sessions``;
the materialisation metadata lists PUBLISHED ``schema.table`` names and, in ``source_tables``, the
build-file table each came from.

Scheduling: by default the asset carries :data:`DAILY_AFTER_CHECKS`, a daily ``on_cron`` condition
(06:00 UTC, once every dependency was updated since that tick) that additionally requires every
upstream blocking check to have passed, so a declarative-automation tick never publishes a build
whose checks failed in an earlier run. Pass ``automation_condition=None`` to leave scheduling to a
job/schedule instead.
"""

import importlib.metadata
from collections.abc import Sequence

import dagster as dg

from lakehouse import storage
from lakehouse.engine import engine
from lakehouse.publish import DEFAULT_STORAGE_VERSION, build_db_path, publish_marts, published_name
from orchestration.resources import DUCKDB_POOL, LakehouseResource

PUBLISHED_MARTS_KEY = dg.AssetKey(["published", "marts_duckdb"])
#: Daily at 06:00 UTC after all marts refreshed, and never while an upstream blocking check fails.
DAILY_AFTER_CHECKS = (
    dg.AutomationCondition.on_cron("0 6 * * *", "UTC")
    & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("daily_after_blocking_checks")
_BRONZE_TABLES = ("clickstream_events", "sensor_readings", "quarantine")


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def publication_metadata(lakehouse: LakehouseResource) -> dict[str, str]:
    """Versions recorded in ``_beacon.publication``: the tools, and the bronze Delta table versions.

    The Delta versions are read at publish time (right after the dbt build in the same run), so they
    say which bronze snapshot the marts were built from unless landing committed in between.
    """
    name = engine()
    meta = {
        "engine": name,
        "dbt_core_version": _version("dbt-core"),
        "dbt_adapter_version": _version(f"dbt-{name}"),
        "duckdb_writer_version": _version("duckdb"),
        "deltalake_version": _version("deltalake"),
    }
    if name == "spark":
        meta["pyspark_version"] = _version("pyspark")

    for table in _BRONZE_TABLES:
        version = storage.table_version(lakehouse.paths.table("bronze", table))
        if version is not None:
            meta[f"delta_version_at_publish.bronze.{table}"] = str(version)
    return meta


def build_publish_asset(
    deps: Sequence[dg.AssetKey],
    schemas: Sequence[str] = ("marts",),
    *,
    automation_condition: dg.AutomationCondition | None = DAILY_AFTER_CHECKS,
    storage_version: str = DEFAULT_STORAGE_VERSION,
) -> dg.AssetsDefinition:
    """The asset ``["published", "marts_duckdb"]`` publishing ``schemas`` once ``deps`` are built and checked."""
    if not deps:
        raise ValueError("the publication must depend on at least one mart asset")
    schemas = tuple(schemas)
    published = ", ".join(published_name(s) for s in schemas)

    @dg.asset(
        key=PUBLISHED_MARTS_KEY,
        deps=list(deps),
        group_name="publish",
        kinds={"duckdb"},
        pool=DUCKDB_POOL,
        owners=["team:data-platform"],
        automation_condition=automation_condition,
        description=(
            f"The BI-facing DuckDB file: build schemas {', '.join(schemas)} published as {published} "
            "(marts lands in the default schema main, so BI queries unqualified table names) plus "
            "_beacon.publication, copied from the private dbt build file after every blocking check "
            "passed and swapped in atomically; "
            "the replaced file is kept as marts.previous.duckdb for rollback. Written in DuckDB storage "
            f"format {storage_version} so DuckDB 1.x clients and BI drivers can open it read-only."
        ),
    )
    def marts_duckdb(context: dg.AssetExecutionContext, lakehouse: LakehouseResource) -> dg.MaterializeResult:
        paths = lakehouse.paths
        result = publish_marts(
            build_db_path(paths.build),
            paths.marts,
            schemas,
            publication_metadata(lakehouse),
            run_id=context.run_id,
            storage_version=storage_version,
        )
        context.log.info(
            f"published {len(result.tables)} tables ({result.bytes} bytes) to {result.published_path} "
            f"in {result.duration_s:.2f}s"
        )
        if result.missing_schemas:
            context.log.warning(f"schemas not in the build file yet: {list(result.missing_schemas)}")
        return dg.MaterializeResult(
            metadata={
                "tables": dg.MetadataValue.json(list(result.tables)),
                "row_counts": dg.MetadataValue.json(dict(result.row_counts)),
                "source_tables": dg.MetadataValue.json(dict(result.source_tables)),
                "path": dg.MetadataValue.path(str(result.published_path)),
                "bytes": dg.MetadataValue.int(result.bytes),
                "previous_kept": dg.MetadataValue.bool(result.previous_kept),
                "previous_path": dg.MetadataValue.text(str(result.previous_path or "")),
                "duration_s": dg.MetadataValue.float(round(result.duration_s, 3)),
                "storage_version": dg.MetadataValue.text(result.storage_version),
                "materialised_views": dg.MetadataValue.json(list(result.materialised_views)),
                "missing_schemas": dg.MetadataValue.json(list(result.missing_schemas)),
                "casts": dg.MetadataValue.json(dict(result.casts)),
                "total_rows": dg.MetadataValue.int(sum(result.row_counts.values())),
            }
        )

    return marts_duckdb
