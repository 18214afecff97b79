"""After dbt builds on Spark: its tables become Delta tables, mirrored into the build file.

Why: everything after dbt (GX mart checks, model training, DP releases, the BI publication,
erasure) reads the marts from the private build DuckDB file. On Spark, each table dbt built is
written to ``delta/<schema>/<model>`` through :func:`lakehouse.storage.spark.write_delta` (staged
Parquet, one delta-rs commit: a failed export leaves the previous version), then copied into the
build file from that Delta table. Readers therefore see the same relations on both engines, and
the Delta tables are what other engines or a Databricks workspace can read directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from lakehouse.config import DataPaths
from lakehouse.publish import build_db_path
from lakehouse.storage import arrow_dataset

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: dbt materialisations exported. Views too, as tables of their rows at build time: readers of the
#: build file (model training reads ``int_clickstream__events_stitched``) need every relation, and
#: a Spark view's SQL cannot run in DuckDB. Ephemeral models have no relation to export.
EXPORTED_MATERIALIZATIONS = frozenset({"table", "incremental", "view"})


@dataclass(frozen=True)
class BuiltRelation:
    """A table dbt built in the Spark catalog: ``schema.name``."""

    schema: str
    name: str


def built_relations(results: Iterable[object]) -> list[BuiltRelation]:
    """The relations among dbt's run results: successful models materialised as table/incremental/view."""
    out: list[BuiltRelation] = []
    for result in results:
        node = getattr(result, "node", None)
        if node is None or getattr(node, "resource_type", None) != "model":
            continue
        if str(getattr(result, "status", "")) != "success":
            continue
        if node.config.materialized not in EXPORTED_MATERIALIZATIONS:
            continue
        out.append(BuiltRelation(node.schema, node.alias or node.name))
    return out


def export_relations(
    spark: SparkSession, data: DataPaths, relations: Sequence[BuiltRelation]
) -> dict[str, int]:
    """Write each Spark table to its Delta table (whole-table overwrite, one commit each)."""
    from lakehouse.storage.spark import write_delta

    versions: dict[str, int] = {}
    for rel in relations:
        frame = spark.table(f"{rel.schema}.{rel.name}")
        versions[f"{rel.schema}.{rel.name}"] = write_delta(
            frame,
            data.table(rel.schema, rel.name),
            mode="overwrite",
            commit_metadata={"beacon.source": f"spark:{rel.schema}.{rel.name}"},
        )
    return versions


def mirror_into_build_file(data: DataPaths, relations: Sequence[BuiltRelation]) -> None:
    """Replace each relation in the build DuckDB file by the content of its Delta table (one transaction).

    DuckDB scans the table's Arrow dataset batch by batch, so memory does not grow with the table.
    """
    data.build.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(build_db_path(data.build)))
    try:
        con.execute("begin")
        for rel in relations:
            con.register("exported", arrow_dataset(data.table(rel.schema, rel.name)))
            con.execute(f'create schema if not exists "{rel.schema}"')
            con.execute(f'create or replace table "{rel.schema}"."{rel.name}" as select * from exported')
            con.unregister("exported")
        con.execute("commit")
    finally:
        con.close()
