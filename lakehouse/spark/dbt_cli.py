"""``beacon-dbt-spark``: the dbt command line, run inside a Spark session (dbt-spark ``session`` method).

Why a wrapper rather than plain ``dbt``: the ``session`` method runs dbt's SQL in the Spark session
of the dbt process itself, and the bronze sources must be views over the files delta-rs lists as
active (:mod:`lakehouse.spark.bronze_views`), which only Python in that same process can create.
dagster-dbt runs it exactly like ``dbt`` (same arguments, same JSON log lines on stdout, same exit
codes: 0 success, 1 failures in the run, 2 an error before or around it), so the asset graph and
its checks do not change with the engine.

After a ``build``/``run`` the tables dbt built are exported to Delta and mirrored into the build
file (:mod:`lakehouse.spark.export`); the Spark session stops when the command ends.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from lakehouse.config import DataPaths, paths

#: Written under ``$BEACON_DATA_DIR/spark`` after every Spark dbt command (see :func:`write_run_facts`).
RUN_FACTS = "last_dbt_run.json"

#: dbt commands that need no database connection (and so no Spark session).
_OFFLINE_COMMANDS = frozenset({"parse", "deps", "clean", "debug", "ls", "list", "--version", "--help", "-h"})
_BUILDING_COMMANDS = frozenset({"build", "run", "seed", "snapshot"})


def dbt_command(argv: Sequence[str]) -> str | None:
    """The dbt sub-command in ``argv`` (the first argument that is not an option)."""
    for arg in argv:
        if not arg.startswith("-") or arg in ("--version", "--help", "-h"):
            return arg
    return None


def exit_code(success: bool, exception: BaseException | None) -> int:
    """dbt's exit codes: 0 success, 1 the command ran with failures, 2 it could not run."""
    if exception is not None:
        return 2
    return 0 if success else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = dbt_command(args)
    from dbt.cli.main import dbtRunner

    if command in _OFFLINE_COMMANDS or command is None:
        result = dbtRunner().invoke(args)
        return exit_code(result.success, result.exception)

    from lakehouse.spark.bronze_views import register_bronze_views
    from lakehouse.spark.export import built_relations, export_relations, mirror_into_build_file
    from lakehouse.spark.session import beacon_spark_session, driver_pid, executor_pids

    data = paths()
    began = time.perf_counter()
    spark = beacon_spark_session(data)
    facts: dict[str, object] = {
        "command": command,
        "master": spark.sparkContext.master,
        "python_pid": os.getpid(),
        "driver_pid": driver_pid(spark),
        "executor_pids": sorted(executor_pids(spark)),
        "session_seconds": round(time.perf_counter() - began, 2),
    }
    try:
        facts["bronze_versions"] = register_bronze_views(spark, data)
        started = time.perf_counter()
        result = dbtRunner().invoke(args)
        facts["dbt_seconds"] = round(time.perf_counter() - started, 2)
        if command in _BUILDING_COMMANDS and result.result is not None and result.exception is None:
            # Tables are exported even when some dbt tests failed: like the DuckDB build file, the
            # mirror is private, and the blocking checks keep a failed build from being published.
            started = time.perf_counter()
            relations = built_relations(getattr(result.result, "results", []))
            facts["exported_versions"] = export_relations(spark, data, relations)
            mirror_into_build_file(data, relations)
            facts["export_seconds"] = round(time.perf_counter() - started, 2)
        facts["success"] = result.success
        return exit_code(result.success, result.exception)
    finally:
        spark.stop()
        facts["total_seconds"] = round(time.perf_counter() - began, 2)
        write_run_facts(data, facts)


def write_run_facts(data: DataPaths, facts: dict[str, object]) -> Path:
    """``spark/last_dbt_run.json``: where and how the last dbt command ran (master, driver and executor
    process ids, bronze versions read, Delta versions exported, timings), for operators and tests."""
    out = data.spark / RUN_FACTS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(facts, indent=2, sort_keys=True, default=str))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
