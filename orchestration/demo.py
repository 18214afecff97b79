"""``beacon demo``: generate the demo data set and materialise every asset, through Dagster.

Runs go through the Dagster instance under ``$DAGSTER_HOME`` (``$BEACON_DATA_DIR/dagster``), so
``make ui`` afterwards shows every run, materialisation and check result. Steps:

1. generate the data set (skipped when the landing folder already holds the same one: the
   generator is deterministic, and landing would skip the files anyway);
2. land every delivery day in ONE run (the bronze assets backfill a range in a single run), with
   the bronze GX checks validating every day of the range; files already landed cost nothing, so
   a second ``make demo`` adds no row;
3. one run over the whole day range for everything downstream: the incremental dbt models (a
   single-run backfill), the other marts, model training, scores and the publication, with
   ``reference_date`` the day after the data ends (the demo data lies in the past).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import dagster as dg

from lakehouse.config import DataPaths, paths

DEMO_START = dt.date(2026, 1, 1)
_RANGE_START = "dagster/asset_partition_range_start"
_RANGE_END = "dagster/asset_partition_range_end"

DAGSTER_YAML = """\
# Written by Beacon. Every DuckDB writer runs in the `duckdb_writer` pool: one at a time.
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


def ensure_dagster_home(p: DataPaths) -> Path:
    """DAGSTER_HOME under the data root, with the instance config that limits the DuckDB pool."""
    home = Path(os.environ.get("DAGSTER_HOME") or p.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _generate_if_needed(p: DataPaths, users: int, homes: int, days: int, seed: int) -> None:
    from lakehouse.generator import generate

    wanted = {"users": users, "homes": homes, "days": days, "seed": seed, "start": DEMO_START.isoformat()}
    stamp = p.landing / ".demo.json"
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        print(f"[demo] data set already generated in {p.landing} ({wanted})")
        return
    started = time.monotonic()
    summary = generate(
        out=p.landing, truth=p.truth, users=users, homes=homes, days=days, start=DEMO_START, seed=seed
    )
    print(summary)
    stamp.write_text(json.dumps(wanted))
    print(f"[demo] generated in {time.monotonic() - started:.0f} s")


def delivery_days(p: DataPaths) -> list[str]:
    """Delivery days with landing files, from the landing folders' names."""
    days = {
        d.name
        for source in ("clickstream", "sensors")
        if (p.landing / source).is_dir()
        for d in (p.landing / source).iterdir()
        if d.is_dir()
    }
    return sorted(days)


def _check_failures(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        f"{e.asset_check_evaluation_data.asset_key.to_user_string()}:{e.asset_check_evaluation_data.check_name}"
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and not e.asset_check_evaluation_data.passed
        and e.asset_check_evaluation_data.severity == dg.AssetCheckSeverity.ERROR
    ]


def run_demo(users: int, homes: int, days: int, seed: int) -> int:
    """Generate, land, build, train, score and publish; print what was built. Exit code 0 when all ran."""
    from orchestration.definitions import defs
    from orchestration.pipeline import beacon_daily_job  # noqa: F401  (the daily job is part of defs)
    from orchestration.resources import DAILY_PARTITIONS

    p = paths()
    p.root.mkdir(parents=True, exist_ok=True)
    ensure_dagster_home(p)
    instance = dg.DagsterInstance.get()
    t0 = time.monotonic()
    _generate_if_needed(p, users, homes, days, seed)

    bronze = dg.AssetSelection.groups("bronze")
    build_job = dg.define_asset_job(
        "beacon_demo_build", selection=dg.AssetSelection.all() - bronze, partitions_def=DAILY_PARTITIONS
    )
    demo_defs = dg.Definitions.merge(defs, dg.Definitions(jobs=[build_job]))
    day_keys = delivery_days(p)
    if not day_keys:
        print(f"[demo] no landing files under {p.landing}")
        return 1
    t_land = time.monotonic()
    result = demo_defs.resolve_job_def("bronze_landing_job").execute_in_process(
        instance=instance, tags={_RANGE_START: day_keys[0], _RANGE_END: day_keys[-1]}, raise_on_error=False
    )
    if not result.success:
        print(f"[demo] landing {day_keys[0]}..{day_keys[-1]} FAILED (run {result.run_id}): see `make ui`")
        return 1
    failed = _check_failures(result)
    if failed:
        print(f"[demo] landing: blocking bronze checks failed: {', '.join(failed)}")
        return 1
    print(
        f"[demo] landed {len(day_keys)} delivery days in one run in {time.monotonic() - t_land:.0f} s "
        "(bronze GX checks on every day)"
    )

    reference = (dt.date.fromisoformat(day_keys[-1]) + dt.timedelta(days=1)).isoformat()
    t_build = time.monotonic()
    result = demo_defs.resolve_job_def("beacon_demo_build").execute_in_process(
        instance=instance,
        tags={_RANGE_START: day_keys[0], _RANGE_END: day_keys[-1]},
        run_config={"ops": {"dbt_marts": {"config": {"reference_date": reference}}}},
        raise_on_error=False,
    )
    print(f"[demo] built marts, models, scores and the publication in {time.monotonic() - t_build:.0f} s")
    failed_checks = _check_failures(result)
    _print_summary(p, result, failed_checks, time.monotonic() - t0)
    return 0 if result.success and not failed_checks else 1


def _print_summary(
    p: DataPaths, result: dg.ExecuteInProcessResult, failed_checks: list[str], seconds: float
) -> None:
    import duckdb
    import pyarrow.compute as pc

    from lakehouse.storage import active_files, table_version

    materialised = sorted(
        {
            e.asset_key.to_user_string()
            for e in result.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION"
        }
    )
    print(
        f"\n[demo] run {result.run_id}: {'success' if result.success else 'FAILED'}; "
        f"{len(materialised)} assets materialised downstream of bronze in {seconds:.0f} s in all"
    )
    if failed_checks:
        print(f"[demo] blocking checks failed: {', '.join(failed_checks)}")
    for source in ("clickstream_events", "sensor_readings", "quarantine"):
        table = p.table("bronze", source)
        if (table / "_delta_log").is_dir():
            files = active_files(table)
            print(
                f"  bronze  {source:<22} {pc.sum(files['num_records']).as_py() or 0:>12,} rows  "
                f"Delta v{table_version(table)}  {table}"
            )
    if p.marts.exists():
        with duckdb.connect(str(p.marts), read_only=True) as con:
            tables = con.execute(
                "SELECT schema_name, table_name, estimated_size FROM duckdb_tables() "
                "WHERE schema_name <> '_beacon' ORDER BY schema_name, table_name"
            ).fetchall()
        print(f"  published {p.marts} ({p.marts.stat().st_size / 1e6:.1f} MB, read-only for BI):")
        for schema, name, size in tables:
            print(f"    {schema}.{name:<34} {size:>10,} rows")
    print(f"  MLflow   {p.mlflow} (mlflow ui --backend-store-uri sqlite:///{p.mlflow / 'mlflow.db'})")
    print(f"  Dagster  {os.environ['DAGSTER_HOME']} (make ui, http://127.0.0.1:3000)")
    print(f"  GX Data Docs  {p.gx}")
    print(f"  truth    {p.truth} (never read by the pipeline)")
