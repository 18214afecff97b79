"""A lakehouse whose bronze tables have a real Delta history, from generated data.

Why: an engine that reads a Delta table by listing its folder sees files that compaction,
overwrites and deletes have retired. Equivalence checks between engines (tests, ``bench/``) must
therefore start from tables that went through all of those, not from one clean append:

1. two landing runs (appends): the first half of the delivery days, then the rest;
2. compaction of every clickstream and sensor partition (small files -> one; old files stay);
3. an overwrite: the clickstream partition of the middle day rewritten without its page pings;
4. a delete: every event of one user (as an erasure does), in every partition.

Everything goes through the real landing code and :mod:`lakehouse.storage`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from lakehouse import storage
from lakehouse.config import DataPaths
from lakehouse.generator.run import generate
from lakehouse.landing.engine import land

START = dt.date(2026, 1, 1)


@dataclass(frozen=True)
class HistorySummary:
    """What the history did: Delta versions and the rows the overwrite and delete removed."""

    versions: dict[str, int]
    overwritten_day: dt.date
    rows_removed_by_overwrite: int
    rows_removed_by_delete: int


def build_history(
    paths: DataPaths, key: str, *, users: int, homes: int, days: int, seed: int = 7
) -> HistorySummary:
    """Generate, land in two runs, compact, overwrite one partition and delete rows (see module doc)."""
    generate(paths.landing, paths.truth, users=users, homes=homes, days=days, start=START, seed=seed)
    delivery = sorted({p.name for p in paths.landing.glob("*/*") if p.is_dir()})
    half = max(1, len(delivery) // 2)
    land(paths, key, delivery[:half])
    land(paths, key, delivery[half:])

    clicks = paths.table("bronze", "clickstream_events")
    sensors = paths.table("bronze", "sensor_readings")
    for table in (clicks, sensors):
        storage.compact(table)

    day = START + dt.timedelta(days=days // 2)
    predicate = f"event_date = '{day.isoformat()}'"
    before = storage.read_table(clicks, filters=[("event_date", "=", day)])
    kept = pl.from_arrow(before).filter(pl.col("event_type") != "page_ping")  # type: ignore[union-attr]
    storage.write_partitions(
        clicks,
        kept.to_arrow(),  # type: ignore[union-attr]
        ["event_date"],
        mode="overwrite",
        replace_where=predicate,
        commit_metadata={"beacon.history": "overwrite without page pings"},
    )
    # an erasure-like delete: every event of one (pseudonymised, hex) user, spread over all days
    erased = storage.scan_table(clicks).select(pl.col("user_id").min()).collect().item()
    deleted = storage.delete_where(clicks, f"user_id = '{erased}'", {"beacon.history": "delete one user"})
    versions = {
        name: storage.table_version(paths.table("bronze", name)) or 0
        for name in ("clickstream_events", "sensor_readings", "quarantine")
    }
    return HistorySummary(
        versions=versions,
        overwritten_day=day,
        rows_removed_by_overwrite=before.num_rows - kept.height,  # type: ignore[union-attr]
        rows_removed_by_delete=int(deleted.get("num_deleted_rows", 0)),
    )
