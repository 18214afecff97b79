"""Benchmark: dbt sessionisation vs a hand-tuned DuckDB query vs a bare sort, and daily vs full.

Generates bronze-shaped clickstream data (vectorised numpy/polars, 30 days, written as Delta
partitioned by event_date), builds the dbt staging + sessions models with a full refresh, then in
the same process and on the same staged table times a hand-tuned DuckDB sessionisation and a bare
``ORDER BY anonymous_id, occurred_at``; finally an incremental dbt run of day 30 against the full
refresh of 30 days. Prints a table. Target: the dbt sessions model within 1.5x the hand-tuned query.

    .venv/bin/python bench/bench_sessions.py            # 1M and 10M events
    .venv/bin/python bench/bench_sessions.py 1000000    # only 1M
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lakehouse import storage  # noqa: E402
from orchestration.dbt_project import DBT_PROJECT_DIR, dbt_env, dbt_executable  # noqa: E402

DAYS = 30
FIRST_DAY = date(2026, 1, 1)
EVENT_TYPES = np.array(
    [
        "page_view",
        "product_view",
        "page_ping",
        "search",
        "add_to_cart",
        "remove_from_cart",
        "add_to_wishlist",
        "checkout_started",
        "purchase",
    ]
)
EVENT_P = np.array([0.30, 0.25, 0.28, 0.05, 0.05, 0.01, 0.02, 0.02, 0.02])
TS = pl.Datetime("us", "UTC")


def generate(n_events: int, seed: int = 7) -> pl.DataFrame:
    """Sessions of ~10 events (gaps ~1 min) of n/50 devices over 30 days, bronze columns."""
    rng = np.random.default_rng(seed)
    n_sessions = max(1, n_events // 10)
    n_devices = max(1, n_events // 50)
    sizes = rng.poisson(9, n_sessions) + 1
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), n_events) + 1]
    n = int(sizes.sum())
    session_of = np.repeat(np.arange(sizes.size), sizes)
    device = rng.integers(0, n_devices, sizes.size)[session_of]
    start = rng.uniform(0, DAYS * 86400 - 7200, sizes.size)[session_of]
    gaps = rng.exponential(60.0, n)
    csum = np.cumsum(gaps)
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    offsets = csum - np.repeat(csum[first], sizes)
    epoch_us = np.datetime64(FIRST_DAY.isoformat(), "us").astype(np.int64) + ((start + offsets) * 1e6).astype(
        np.int64
    )
    types = EVENT_TYPES[rng.choice(EVENT_TYPES.size, n, p=EVENT_P)]
    logged_in = rng.random(n_devices) < 0.3
    frame = pl.DataFrame(
        {
            "event_id": pl.int_range(n, eager=True).cast(pl.String).str.pad_start(12, "0"),
            "event_type": types,
            "device": device,
            "logged_in": logged_in[device],
            "occurred_at": pl.Series(epoch_us).cast(TS),
            "product": rng.integers(0, 5000, n),
            "price": np.round(rng.uniform(1, 200, n), 2),
            "quantity": rng.integers(1, 4, n).astype(np.int32),
        }
    )
    is_product = pl.col("event_type").is_in(
        ["product_view", "add_to_cart", "remove_from_cart", "add_to_wishlist", "purchase"]
    )
    is_money = pl.col("event_type").is_in(["add_to_cart", "purchase"])
    return frame.select(
        "event_id",
        "event_type",
        pl.when(pl.col("logged_in"))
        .then(pl.format("user-{}", pl.col("device")))
        .otherwise(None)
        .alias("user_id"),
        pl.format("device-{}", pl.col("device")).alias("anonymous_id"),
        "occurred_at",
        (pl.col("occurred_at") + pl.duration(seconds=2)).alias("received_at"),
        pl.format("https://shop.example/p/{}", pl.col("product")).alias("page_url"),
        pl.lit(None, pl.String).alias("referrer"),
        pl.when(is_product).then(pl.format("sku-{}", pl.col("product"))).alias("product_id"),
        pl.when(is_product).then(pl.format("cat-{}", pl.col("product") % 12)).alias("category"),
        pl.when(is_money).then(pl.col("price")).alias("price"),
        pl.when(is_money).then(pl.col("quantity")).alias("quantity"),
        pl.when(is_money).then(pl.lit("EUR")).alias("currency"),
        pl.when(pl.col("event_type") == "purchase")
        .then(pl.format("o-{}", pl.col("event_id")))
        .alias("order_id"),
        pl.when(pl.col("event_type") == "search").then(pl.lit("kettle")).alias("search_query"),
        pl.when(pl.col("event_type") == "page_ping").then(pl.lit(50.0)).alias("scroll_depth_pct"),
        pl.when(pl.col("event_type") == "page_ping").then(pl.lit(10.0)).alias("engaged_seconds"),
        pl.lit("desktop").alias("device_type"),
        pl.lit("Mozilla/5.0").alias("user_agent"),
        pl.lit("DE").alias("country"),
        pl.lit(True).alias("consent_analytics"),
        pl.lit(True).alias("consent_personalization"),
        pl.lit(None, pl.String).alias("experiment_id"),
        pl.lit(None, pl.String).alias("variant"),
        pl.lit(60, pl.Int32).alias("tz_offset_minutes"),
        pl.col("occurred_at").dt.date().alias("event_date"),
        pl.lit("bench.jsonl.gz").alias("_source_file"),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_source_line"),
        (pl.col("occurred_at") + pl.duration(seconds=3)).alias("_landed_at"),
        pl.lit("bench").alias("_landing_run_id"),
    )


def dbt_run(root: Path, *args: str, dbt_vars: dict | None = None) -> dict[str, float]:
    """Run dbt; return execution seconds per model from run_results.json."""
    target = root / "dbt_target"
    command = [
        dbt_executable(),
        "run",
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(root / "dbt_logs"),
    ]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    result = subprocess.run(
        command, cwd=DBT_PROJECT_DIR, env=dbt_env(root), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(result.stdout[-4000:])
    results = json.loads((target / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results}


HAND_TUNED = """
create or replace table main.hand_sessions as
with flagged as (
    select *,
        case when occurred_at >= lag(occurred_at) over w + interval (30) minute
               or lag(occurred_at) over w is null then 1 else 0 end as is_new
    from staging.stg_clickstream__events
    where is_behavioural
    window w as (partition by anonymous_id order by occurred_at, event_id)
),
numbered as (
    select *, sum(is_new) over (partition by anonymous_id order by occurred_at, event_id
                                rows unbounded preceding) as session_index
    from flagged
)
select
    md5(anonymous_id || '|' || cast(min(occurred_at) as varchar)) as session_id,
    anonymous_id,
    arg_min(user_id, occurred_at) filter (where user_id is not null) as session_user_id,
    min(occurred_at) as session_start_at,
    max(occurred_at) as session_end_at,
    epoch(max(occurred_at) - min(occurred_at)) as duration_seconds,
    coalesce(sum(engaged_seconds_capped) filter (where event_type = 'page_ping'), 0) as engaged_seconds,
    count(*) as events,
    count(*) filter (where event_type = 'page_view') as page_views,
    count(*) filter (where event_type = 'product_view') as product_views,
    max(scroll_depth_pct) as max_scroll_depth_pct,
    count(*) filter (where event_type = 'search') as searches,
    count(*) filter (where event_type = 'add_to_cart') as cart_adds,
    count(*) filter (where event_type = 'remove_from_cart') as cart_removes,
    count(*) filter (where event_type = 'add_to_wishlist') as wishlist_adds,
    bool_or(event_type = 'checkout_started') as checkout_started,
    bool_or(event_type = 'purchase') as purchased,
    count(distinct order_id) filter (where event_type = 'purchase') as orders,
    coalesce(sum(line_amount_eur) filter (where event_type = 'purchase'), 0) as revenue_eur,
    arg_min(page_url, occurred_at) as landing_page_url,
    arg_min(referrer, occurred_at) as landing_referrer,
    arg_min(device_type, occurred_at) as device_type,
    arg_min(country, occurred_at) as country,
    arg_min(tz_offset_minutes, occurred_at) as tz_offset_minutes
from numbered
group by anonymous_id, session_index
"""

BARE_SORT = """
create or replace table main.sorted_events as
select anonymous_id, occurred_at, event_id from staging.stg_clickstream__events
where is_behavioural order by anonymous_id, occurred_at, event_id
"""


def timed_sql(database: Path, sql: str) -> tuple[float, int]:
    with duckdb.connect(str(database)) as con:
        started = time.perf_counter()
        con.execute(sql)
        elapsed = time.perf_counter() - started
        table = sql.split("table ")[1].split()[0]
        rows = con.execute(f"select count(*) from {table}").fetchone()[0]
        con.execute(f"drop table {table}")
    return elapsed, rows


def bench(n_events: int, workdir: Path) -> list[tuple[str, str]]:
    root = workdir / f"bench-{n_events}" / "data"
    (root / "build").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    frame = generate(n_events)
    bronze = root / "delta" / "bronze" / "clickstream_events"
    if storage.table_exists(bronze):  # a re-run in the same workdir starts from the same bronze
        storage.drop_table(bronze)
    storage.write_partitions(bronze, frame, ["event_date"])
    gen_s = time.perf_counter() - started
    select = ["--select", "stg_clickstream__events", "int_clickstream__sessions"]
    full = dbt_run(root, *select, "--full-refresh")
    database = root / "build" / "marts_build.duckdb"
    with duckdb.connect(str(database), read_only=True) as con:
        dbt_rows = con.execute("select count(*) from intermediate.int_clickstream__sessions").fetchone()[0]
        staged = con.execute("select count(*) from staging.stg_clickstream__events").fetchone()[0]
    hand_s, hand_rows = timed_sql(database, HAND_TUNED)
    sort_s, _ = timed_sql(database, BARE_SORT)
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    daily = dbt_run(
        root,
        *select,
        dbt_vars={
            "start_date": last.isoformat(),
            "end_date": (last + timedelta(days=1)).isoformat(),
            "lookback_days": 3,
        },
    )
    sessions_s = full["int_clickstream__sessions"]
    rows = [
        ("events (bronze rows)", f"{frame.height:,} (staged {staged:,}, generated+written in {gen_s:.1f} s)"),
        ("dbt stg_clickstream__events, full refresh", f"{full['stg_clickstream__events']:.2f} s"),
        ("dbt int_clickstream__sessions, full refresh", f"{sessions_s:.2f} s ({dbt_rows:,} sessions)"),
        ("hand-tuned DuckDB sessionisation", f"{hand_s:.2f} s ({hand_rows:,} sessions)"),
        ("bare ORDER BY anonymous_id, occurred_at", f"{sort_s:.2f} s"),
        ("dbt sessions / hand-tuned", f"{sessions_s / hand_s:.2f}x (target <= 1.5x)"),
        (
            "dbt daily run of day 30 (stg + sessions)",
            f"{daily['stg_clickstream__events'] + daily['int_clickstream__sessions']:.2f} s "
            f"(stg {daily['stg_clickstream__events']:.2f} + sessions {daily['int_clickstream__sessions']:.2f})",
        ),
        (
            "dbt full refresh of 30 days (stg + sessions)",
            f"{full['stg_clickstream__events'] + sessions_s:.2f} s",
        ),
    ]
    return rows


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [1_000_000, 10_000_000]
    workdir = Path(os.environ.get("BEACON_BENCH_DIR") or tempfile.mkdtemp(prefix="beacon-bench-sessions-"))
    for n in sizes:
        rows = bench(n, workdir)
        width = max(len(k) for k, _ in rows)
        print(f"\n== sessionisation benchmark, {n:,} events ({os.cpu_count()} cores)")
        for key, value in rows:
            print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main(sys.argv[1:])
