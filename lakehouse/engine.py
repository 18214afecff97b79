"""Which engine builds the marts: ``BEACON_ENGINE=duckdb`` (default) or ``spark``.

Why one switch: a team whose data outgrows one machine changes this variable (and points
``SPARK_MASTER`` at its cluster) and nothing else: the asset graph, the dbt project (its ``spark``
target sits beside ``duckdb``), the Delta tables and every reader stay the same.

Landing, quality checks and model training are engine-agnostic: they read and write Delta through
:mod:`lakehouse.storage` (streamed Arrow/polars on the orchestrator) and read the marts from the
build file, which on Spark is filled from the Delta tables the build exported
(:mod:`lakehouse.spark.export`).
"""

from __future__ import annotations

import os
from typing import Literal

EngineName = Literal["duckdb", "spark"]
ENGINES: tuple[EngineName, ...] = ("duckdb", "spark")
#: Without SPARK_MASTER the Spark engine runs in the orchestrator's JVM on every core; a
#: multi-process cluster on one machine is ``local-cluster[2,1,1024]``, a real one ``spark://host:7077``.
DEFAULT_SPARK_MASTER = "local[*]"


def engine(env: dict[str, str] | None = None) -> EngineName:
    """The configured engine; an unknown value is an error that names the variable and the choices."""
    raw = (env if env is not None else os.environ).get("BEACON_ENGINE", "duckdb").strip().lower() or "duckdb"
    if raw not in ENGINES:
        raise ValueError(
            f"BEACON_ENGINE={raw!r} is not an engine Beacon knows: set it to one of {', '.join(ENGINES)}"
        )
    return raw  # type: ignore[return-value]


def spark_master(env: dict[str, str] | None = None) -> str:
    """The Spark master URL (``SPARK_MASTER``), default :data:`DEFAULT_SPARK_MASTER`."""
    return (env if env is not None else os.environ).get("SPARK_MASTER", "").strip() or DEFAULT_SPARK_MASTER


def dbt_target(name: EngineName | None = None) -> str:
    """The dbt target of an engine: the profile has one output per engine, named like it."""
    return name or engine()
