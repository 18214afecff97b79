"""Benchmark: the dbt build on DuckDB vs on a Spark ``local-cluster`` with one and two executors.

The same generated lakehouse (bronze with a real Delta history, :mod:`lakehouse.generator.history`)
is copied to one data root per engine; each runs ``dbt build`` exactly as the Dagster assets do
(``dbt`` on DuckDB; ``beacon-dbt-spark`` on Spark, which also exports every table to Delta and
mirrors it into the build file). Prints wall time per engine, Spark's own split (session start,
dbt, export), and whether every table equals the DuckDB build (row counts + column checksums).

    .venv/bin/python bench/bench_spark.py                      # 2,000 users, 20 homes, 30 days
    .venv/bin/python bench/bench_spark.py --users 500 --days 14
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lakehouse import storage  # noqa: E402
from lakehouse.config import DataPaths, paths  # noqa: E402
from lakehouse.generator.history import build_history  # noqa: E402
from lakehouse.publish import build_db_path  # noqa: E402
from lakehouse.spark.dbt_cli import RUN_FACTS  # noqa: E402
from lakehouse.spark.equivalence import export_differences  # noqa: E402
from orchestration.dbt_args import build_dbt_args  # noqa: E402
from orchestration.dbt_project import DBT_PROJECT_DIR, dbt_env, dbt_executable  # noqa: E402

KEY = "beacon-bench-key-0123456789abcdef"
REFERENCE_DATE = dt.date(2026, 2, 15)


def run_build(root: DataPaths, engine: str, master: str | None, unit_tests: bool) -> float:
    """Wall seconds of one ``dbt build`` of the whole project on ``engine`` (the assets' arguments)."""
    root.build.mkdir(parents=True, exist_ok=True)  # dbt-duckdb opens the build file there
    env = dbt_env(root.root)
    env["BEACON_ENGINE"] = engine
    if master:
        env["SPARK_MASTER"] = master
    command = [
        dbt_executable(engine),  # type: ignore[arg-type]
        *build_dbt_args(None, reference_date=REFERENCE_DATE, unit_tests=unit_tests),
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target",
        engine,
        "--target-path",
        str(root.root / "dbt_target"),
        "--log-path",
        str(root.root / "dbt_logs"),
    ]
    began = time.perf_counter()
    done = subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{engine} build failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}")
    return seconds


def unequal_tables(duck: DataPaths, spark: DataPaths) -> list[str]:
    """Relations of the DuckDB build whose Spark export differs (or is missing)."""
    with duckdb.connect(str(build_db_path(duck.build)), read_only=True) as con:
        return sorted(export_differences(con, spark))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--homes", type=int, default=20)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--memory-mb", type=int, default=2048, help="memory of each executor")
    parser.add_argument(
        "--unit-tests",
        action="store_true",
        help="include dbt's unit tests (fixed inputs: their cost does not grow with the data)",
    )
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="beacon-bench-spark-"))
    try:
        source = paths(base / "source")
        began = time.perf_counter()
        build_history(source, KEY, users=args.users, homes=args.homes, days=args.days)
        rows = {
            t: storage.read_table(source.table("bronze", t), columns=[]).num_rows
            for t in ("clickstream_events", "sensor_readings")
        }
        print(
            f"bronze: {rows['clickstream_events']:,} events, {rows['sensor_readings']:,} readings "
            f"({args.users} users, {args.homes} homes, {args.days} days; prepared in {time.perf_counter() - began:.0f} s)"
        )
        runs = [
            ("duckdb", "duckdb", None),
            ("spark 1 executor", "spark", f"local-cluster[1,1,{args.memory_mb}]"),
            ("spark 2 executors", "spark", f"local-cluster[2,1,{args.memory_mb}]"),
        ]
        print(
            f"{'engine':<18} {'master':<26} {'wall s':>7} {'session s':>9} {'dbt s':>7} {'export s':>8}  equal to duckdb"
        )
        duck = None
        for label, engine, master in runs:
            root = paths(base / label.replace(" ", "_"))
            shutil.copytree(source.delta / "bronze", root.delta / "bronze")
            wall = run_build(root, engine, master, args.unit_tests)
            if engine == "duckdb":
                duck = root
                print(f"{label:<18} {'(in process)':<26} {wall:7.1f} {'':>9} {'':>7} {'':>8}  -")
                continue
            facts = json.loads((root.spark / RUN_FACTS).read_text())
            assert duck is not None
            bad = unequal_tables(duck, root)
            print(
                f"{label:<18} {master:<26} {wall:7.1f} {facts['session_seconds']:9.1f} {facts['dbt_seconds']:7.1f} "
                f"{facts['export_seconds']:8.1f}  {'yes' if not bad else 'NO: ' + ', '.join(bad)}"
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
