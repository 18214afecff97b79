"""Bronze Delta tables as Spark views for one dbt run on Spark.

dbt-spark's ``session`` method runs SQL in this process's Spark session, so the bronze sources can
be GLOBAL temporary views (``global_temp.<table>``) over exactly the files delta-rs lists as active
(:func:`lakehouse.storage.spark.read_delta`): no Hive table over a Delta directory, which Spark
without the Delta jars would read by listing files (dead files after compaction, overwrite or
delete included). The dbt sources resolve to schema ``global_temp`` on the ``spark`` target.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakehouse.config import DataPaths
from lakehouse.storage import table_exists, table_version

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: The bronze tables dbt reads (``dbt_project/models/staging/_sources.yml``).
BRONZE_SOURCES = ("clickstream_events", "sensor_readings", "quarantine")
VIEW_SCHEMA = "global_temp"


def register_bronze_views(spark: SparkSession, data: DataPaths) -> dict[str, int]:
    """Create ``global_temp.<table>`` for every bronze source; return the Delta version each reads.

    A missing table is an error naming what to do: the bronze assets create every table (empty
    ones included) on their first run.
    """
    from lakehouse.storage.spark import read_delta

    versions: dict[str, int] = {}
    for name in BRONZE_SOURCES:
        path = data.table("bronze", name)
        if not table_exists(path):
            raise FileNotFoundError(
                f"bronze table {name!r} does not exist at {path}: materialise the bronze assets first "
                "(they create every bronze table, empty ones included)"
            )
        version = table_version(path)
        assert version is not None
        read_delta(spark, path, version).createOrReplaceGlobalTempView(name)
        versions[name] = version
    return versions
