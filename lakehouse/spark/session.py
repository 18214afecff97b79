"""One way to start Spark for Beacon, so every Spark process behaves the same.

Why these settings:

* loopback only (``SPARK_LOCAL_IP``, driver host and bind address 127.0.0.1) and no web UI: nothing
  listens on a public interface and no port clashes between test workers;
* session time zone UTC and Parquet timestamps in microseconds: what delta-rs, DuckDB and Arrow
  expect, so a timestamp written by Spark reads back to the same instant everywhere;
* a Derby metastore and the warehouse under ``$BEACON_DATA_DIR/spark``: incremental dbt models find
  their previous table in the next run, and nothing is written to the working directory;
* ANSI mode off, as dbt-spark sets it on every connection (the same semantics in our own code).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.config import DataPaths, paths
from lakehouse.engine import spark_master

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

APP_NAME = "beacon"


def shuffle_partitions(master: str) -> int:
    """Shuffle partitions for ``master``: one per executor core on one machine, 200 on a cluster.

    Spark's default of 200 turns every join and aggregation of a laptop-sized mart into 200
    tiny tasks; one wave of tasks (a partition per core) is what a single machine can run at
    once. On a real cluster Spark's default stands (adaptive execution coalesces small ones).
    Measured (bench data of tests/spark, ``local-cluster[2,1,1024]``): 8 partitions 184 s, 2 146 s.
    """
    if match := re.fullmatch(r"local-cluster\[\s*(\d+)\s*,\s*(\d+)\s*,\s*\d+\s*\]", master):
        return int(match[1]) * int(match[2])
    if match := re.fullmatch(r"local(?:\[(\d+|\*)(?:\s*,\s*\d+)?\])?", master):
        if match[1] is None:  # plain "local": one thread
            return 1
        return (os.cpu_count() or 1) if match[1] == "*" else int(match[1])
    return 200


def spark_conf(data: DataPaths, master: str) -> dict[str, str]:
    """The Spark configuration of a Beacon session (pure, unit-tested)."""
    root = data.spark
    return {
        "spark.master": master,
        "spark.app.name": APP_NAME,
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
        "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
        "spark.sql.ansi.enabled": "false",
        "spark.sql.shuffle.partitions": os.environ.get("BEACON_SPARK_SHUFFLE_PARTITIONS")
        or str(shuffle_partitions(master)),
        "spark.sql.warehouse.dir": str(root / "warehouse"),
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={root / 'metastore_db'};create=true"
        ),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={root} -Duser.timezone=UTC",
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        "spark.local.dir": str(root / "tmp"),
    }


def beacon_spark_session(data: DataPaths | None = None, master: str | None = None) -> SparkSession:
    """The process's Spark session (created on first call with :func:`spark_conf`)."""
    data = data or paths()
    for folder in ("warehouse", "tmp"):
        (data.spark / folder).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("TZ", "UTC")
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in spark_conf(data, master or spark_master()).items():
        builder = builder.config(key, value)
    session = builder.enableHiveSupport().getOrCreate()
    session.sparkContext.setLogLevel(os.environ.get("BEACON_SPARK_LOG_LEVEL", "ERROR"))
    return session


def _jvm_ancestor() -> int:
    """The pid of the nearest ``java`` process above this one (a Python worker's executor JVM)."""
    pid = os.getpid()
    while pid > 1:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
        if cmd.endswith(b"java"):
            return pid
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return -1


def executor_pids(spark: SparkSession, tasks: int = 16) -> set[int]:
    """Process ids of the executor JVMs that ran ``tasks`` small tasks (proof of separate processes)."""
    rdd = spark.sparkContext.parallelize(range(tasks), tasks)
    return set(rdd.map(lambda _: _jvm_ancestor()).distinct().collect())


def driver_pid(spark: SparkSession) -> int:
    """The driver JVM's process id."""
    return int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())  # type: ignore[union-attr]
