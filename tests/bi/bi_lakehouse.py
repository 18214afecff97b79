"""Build a small published lakehouse for the BI test, faster than ``beacon demo``.

``beacon demo`` lands each delivery day in its own Dagster run (what the daily schedule does); for
the BI test only the published result matters, so this lands every file in ONE call of the landing
engine (same code, one commit per table) and then runs the demo's downstream job once over the
whole day range through Dagster: dbt marts, checks, models, scores and the publication, exactly
as ``beacon demo`` builds them.

Usage: ``python tests/bi/bi_lakehouse.py USERS HOMES DAYS SEED`` with ``BEACON_DATA_DIR`` and
``DAGSTER_HOME`` set; exit code 0 when ``marts.duckdb`` was published.
"""

from __future__ import annotations

import datetime as dt
import sys
import time

import dagster as dg

from lakehouse.config import paths
from lakehouse.generator import generate
from lakehouse.landing.engine import land
from lakehouse.pseudonymise import resolve_key
from orchestration.demo import DEMO_START, delivery_days, ensure_dagster_home


def build(users: int, homes: int, days: int, seed: int) -> int:
    from orchestration.definitions import defs
    from orchestration.resources import DAILY_PARTITIONS

    p = paths()
    p.root.mkdir(parents=True, exist_ok=True)
    ensure_dagster_home(p)
    t0 = time.monotonic()
    generate(out=p.landing, truth=p.truth, users=users, homes=homes, days=days, start=DEMO_START, seed=seed)
    report = land(p, resolve_key())
    if report.failed:
        print(f"landing failed for {report.failed}")
        return 1
    print(f"[bi-lakehouse] generated and landed in {time.monotonic() - t0:.0f} s", flush=True)
    day_keys = delivery_days(p)
    job = dg.define_asset_job(
        "bi_test_build",
        selection=dg.AssetSelection.all() - dg.AssetSelection.groups("bronze"),
        partitions_def=DAILY_PARTITIONS,
    )
    merged = dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
    reference = (dt.date.fromisoformat(day_keys[-1]) + dt.timedelta(days=1)).isoformat()
    result = merged.resolve_job_def("bi_test_build").execute_in_process(
        instance=dg.DagsterInstance.get(),
        tags={
            "dagster/asset_partition_range_start": day_keys[0],
            "dagster/asset_partition_range_end": day_keys[-1],
        },
        run_config={"ops": {"dbt_marts": {"config": {"reference_date": reference}}}},
        raise_on_error=False,
    )
    print(f"[bi-lakehouse] built and published in {time.monotonic() - t0:.0f} s: success={result.success}")
    return 0 if result.success and p.marts.is_file() else 1


if __name__ == "__main__":
    sys.exit(build(*(int(a) for a in sys.argv[1:5])))
