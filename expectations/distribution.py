"""Distribution checks that WARN: volume off its trailing median, null-rate jumps, silent sensors.

None of these proves the data wrong (a sale doubles traffic, a holiday empties it), so they
never block; they flag what a human should look at. Each is computed in polars over a bounded
window (the ledger for volumes, the last days' partitions of one or two columns for rates) and
asserted with GX on the small frame, so the observed ratios and the days or devices concerned
appear in the check metadata.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from expectations.bronze import CONTRACT_OF_TABLE
from expectations.model import Expectation, Severity, Suite, When, check_infos
from lakehouse.landing.schemas import IDENTIFIERS, PARTITION_COLUMN

W = Severity.WARN
#: Days of history the volume median and the null-rate median look back over.
TRAILING_DAYS = 7
#: A day's volume may be this factor above or below its trailing median before we warn.
VOLUME_BAND = 2.0
#: Fewer days of history than this: no volume verdict (the median means little).
MIN_HISTORY_DAYS = 3
#: A key field's null rate may rise this much (absolute, 0..1) over its trailing median. Null
#: rates of user_id are clustered by session (one anonymous visitor = many null rows), so they
#: swing by ~0.1 day to day on real traffic; 0.15 flags a broken login or consent banner, not noise.
MAX_NULL_RATE_JUMP = 0.15
#: Days with fewer rows than this get no null-rate verdict (a handful of sessions is all noise).
MIN_ROWS_FOR_NULL_RATE = 1000
#: A device silent for more days than this (having reported in the lookback) has stopped.
MAX_SILENT_DAYS = 2
SILENCE_LOOKBACK_DAYS = 14
#: A device is a regular reporter when it reported on this share of the days between its first and
#: last reading in the lookback, on at least MIN_REGULAR_DAYS days (motion or door sensors in a
#: rarely used room report on some days only: their silence means nothing).
MIN_REGULAR_SHARE = 0.8
MIN_REGULAR_DAYS = 3

KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "clickstream": (*IDENTIFIERS["clickstream"], "page_url"),
    "sensors": (*IDENTIFIERS["sensors"], "device_id"),
}


def distribution_suite(table: str) -> Suite:
    contract_name = CONTRACT_OF_TABLE[table]
    exps = [
        Expectation(
            "volume_within_band",
            "daily_volume_in_band",
            "ExpectColumnValuesToBeBetween",
            {"column": "ratio_to_trailing_median", "min_value": 1 / VOLUME_BAND, "max_value": VOLUME_BAND},
            f"rows landed per delivery day within x{VOLUME_BAND:g} of the trailing {TRAILING_DAYS}-day median",
            severity=W,
        ),
        Expectation(
            "null_rate_stable",
            "null_rate_stable",
            "ExpectColumnValuesToBeBetween",
            {"column": "null_rate_jump", "max_value": MAX_NULL_RATE_JUMP},
            f"null rate of key fields rises at most {MAX_NULL_RATE_JUMP:.0%} over its trailing median",
            severity=W,
        ),
    ]
    checks = [
        ("daily_volume_in_band", W, "daily volume within a band around its trailing median"),
        ("null_rate_stable", W, "no jump in the null rate of key fields"),
    ]
    if contract_name == "sensors":
        exps.append(
            Expectation(
                "device_reporting",
                "sensors_reporting",
                "ExpectColumnValuesToBeBetween",
                {"column": "days_silent", "max_value": MAX_SILENT_DAYS},
                f"a device that reported regularly (on >= {MIN_REGULAR_SHARE:.0%} of at least "
                f"{MIN_REGULAR_DAYS} days in the last {SILENCE_LOOKBACK_DAYS}) is silent at most "
                f"{MAX_SILENT_DAYS} days; event-driven sensors that report on some days only are not judged",
                severity=W,
                where=(When("is_regular_reporter", "==", True),),
            )
        )
        checks.append(("sensors_reporting", W, "no sensor stopped reporting"))
    return Suite(
        name=f"distribution_{table}",
        description=f"Distribution of bronze {table} (warnings only).",
        expectations=tuple(exps),
        checks=check_infos(*checks),
        key_columns=("day", "field", "device_id"),
    )


def volume_frame(ledger: pl.DataFrame, table: str, day: dt.date | None) -> pl.DataFrame:
    """Per delivery day: rows landed, the median of the previous days (missing days count 0), ratio."""
    rows = (
        ledger.filter((pl.col("table_name") == table) & (pl.col("status") == "landed"))
        .group_by(pl.col("delivery_date").alias("day"))
        .agg(pl.col("rows_landed").sum().alias("rows"))
    )
    if rows.height == 0:
        return pl.DataFrame(
            schema={
                "day": pl.Date,
                "rows": pl.Int64,
                "trailing_median": pl.Float64,
                "ratio_to_trailing_median": pl.Float64,
            }
        )
    first, last = rows["day"].min(), rows["day"].max()
    days = pl.DataFrame({"day": pl.date_range(first, max(last, day or last), "1d", eager=True)})
    full = days.join(rows, on="day", how="left").with_columns(pl.col("rows").fill_null(0)).sort("day")
    history = pl.col("rows").shift(1).rolling_median(TRAILING_DAYS, min_samples=MIN_HISTORY_DAYS)
    out = full.with_columns(history.alias("trailing_median")).with_columns(
        pl.when(pl.col("trailing_median") > 0)
        .then(pl.col("rows") / pl.col("trailing_median"))
        .alias("ratio_to_trailing_median")
    )
    return out.filter(pl.col("day") == day) if day is not None else out


def null_rate_frame(bronze: pl.LazyFrame, table: str, day: dt.date) -> pl.DataFrame:
    """Per key field: null rate on ``day`` (event date) against the median of the previous days."""
    fields = KEY_FIELDS[CONTRACT_OF_TABLE[table]]
    start = day - dt.timedelta(days=TRAILING_DAYS)
    rates = (
        bronze.filter(pl.col(PARTITION_COLUMN).is_between(start, day))
        .group_by(PARTITION_COLUMN)
        .agg(pl.len().alias("rows"), *[pl.col(f).is_null().mean().alias(f) for f in fields])
        .collect()
        .unpivot(index=[PARTITION_COLUMN, "rows"], variable_name="field", value_name="null_rate")
    )
    today = rates.filter(pl.col(PARTITION_COLUMN) == day).select("field", "null_rate", "rows")
    before = (
        rates.filter(pl.col(PARTITION_COLUMN) < day)
        .group_by("field")
        .agg(pl.col("null_rate").median().alias("trailing_median_null_rate"), pl.len().alias("history_days"))
    )
    return (
        today.join(before, on="field", how="left")
        .with_columns(
            pl.when((pl.col("history_days") >= MIN_HISTORY_DAYS) & (pl.col("rows") >= MIN_ROWS_FOR_NULL_RATE))
            .then(pl.col("null_rate") - pl.col("trailing_median_null_rate"))
            .alias("null_rate_jump"),
            pl.lit(day).alias("day"),
        )
        .sort("field")
    )


def silence_frame(bronze: pl.LazyFrame, day: dt.date) -> pl.DataFrame:
    """Per device seen in the lookback window: its last reading's date and days silent at ``day``."""
    start = day - dt.timedelta(days=SILENCE_LOOKBACK_DAYS)
    return (
        bronze.filter(pl.col(PARTITION_COLUMN).is_between(start, day))
        .group_by("device_id")
        .agg(
            pl.col(PARTITION_COLUMN).min().alias("first_seen"),
            pl.col(PARTITION_COLUMN).max().alias("last_seen"),
            pl.col(PARTITION_COLUMN).n_unique().alias("active_days"),
        )
        .with_columns(
            (pl.lit(day) - pl.col("last_seen")).dt.total_days().alias("days_silent"),
            (
                (pl.col("active_days") >= MIN_REGULAR_DAYS)
                & (
                    pl.col("active_days")
                    >= MIN_REGULAR_SHARE * ((pl.col("last_seen") - pl.col("first_seen")).dt.total_days() + 1)
                )
            ).alias("is_regular_reporter"),
            pl.lit(day).alias("day"),
        )
        .sort("device_id")
        .collect()
    )


def distribution_frame(root: Path, table: str, day: dt.date | None) -> pl.DataFrame:
    """One frame for the whole distribution suite (a GX batch is one frame): the three parts stacked.

    Each expectation only reads its own column, null in the rows of the other parts (GX column
    expectations ignore nulls), so one validation covers volume, null rates and silence.
    """
    from expectations.landing_ledger import load_ledger
    from lakehouse import storage

    path = root / "delta" / "bronze" / table
    ledger = load_ledger(root, table)
    if day is None and storage.table_exists(path):
        latest = storage.scan_table(path).select(pl.col(PARTITION_COLUMN).max()).collect().item()
        day = latest
    parts = [volume_frame(ledger, table, day)]
    if day is not None and storage.table_exists(path):
        start = day - dt.timedelta(days=max(TRAILING_DAYS, SILENCE_LOOKBACK_DAYS))
        bronze = storage.scan_table(
            path, filters=[(PARTITION_COLUMN, ">=", start), (PARTITION_COLUMN, "<=", day)]
        )
        parts.append(null_rate_frame(bronze, table, day))
        if CONTRACT_OF_TABLE[table] == "sensors":
            parts.append(silence_frame(bronze, day))
    return stack(parts, CONTRACT_OF_TABLE[table] == "sensors")


def stack(parts: list[pl.DataFrame], sensors: bool) -> pl.DataFrame:
    """Stack the parts and make sure every column the suite reads exists (typed, possibly all null)."""
    needed: dict[str, pl.DataType] = {
        "day": pl.Date(),
        "ratio_to_trailing_median": pl.Float64(),
        "null_rate_jump": pl.Float64(),
        "field": pl.String(),
        "device_id": pl.String(),
    }
    if sensors:
        needed["days_silent"] = pl.Int64()
        needed["is_regular_reporter"] = pl.Boolean()
    filled = [p for p in parts if p.height]
    if not filled:
        return pl.DataFrame(schema=needed)
    frame = pl.concat(filled, how="diagonal_relaxed")
    return frame.with_columns([pl.lit(None, t).alias(c) for c, t in needed.items() if c not in frame.columns])
