"""The landing ledger balances: every line read is landed, quarantined, a duplicate or skipped.

Landing asserts this per file before it logs the file; this suite re-checks it on what was
committed, per landing run and table, so a ledger written by another engine (or edited by
hand) cannot hide lost rows. ``skipped`` (blank lines, a CSV header) is part of the documented
invariant in ``lakehouse.landing.engine``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from expectations.model import Expectation, Severity, Suite, check_infos
from lakehouse.landing.schemas import LEDGER_SCHEMA, LEDGER_TABLE

E = Severity.ERROR


def ledger_suite() -> Suite:
    return Suite(
        name="landing_ledger",
        description="Landing ledger: lines read = landed + quarantined + duplicates (+ skipped) per run.",
        expectations=(
            Expectation(
                "lines_accounted",
                "landing_ledger_balanced",
                "ExpectColumnPairValuesToBeEqual",
                {"column_A": "lines_read", "column_B": "lines_accounted"},
                "no line read by a landing run is lost between the file and the tables",
            ),
            Expectation(
                "counts_not_negative",
                "landing_ledger_balanced",
                "ExpectColumnValuesToBeBetween",
                {"column": "min_count", "min_value": 0},
                "counts are never negative",
            ),
        ),
        checks=check_infos(
            (
                "landing_ledger_balanced",
                E,
                "lines read = landed + quarantined + duplicates for every landing run",
            )
        ),
        key_columns=(
            "landing_run_id",
            "table_name",
            "lines_read",
            "rows_landed",
            "rows_quarantined",
            "duplicates",
        ),
    )


def ledger_frame(ledger: pl.DataFrame) -> pl.DataFrame:
    """One row per landing run and table with lines read and lines accounted for."""
    counts = ["lines_read", "rows_landed", "rows_quarantined", "duplicates", "skipped"]
    return (
        ledger.filter(pl.col("status") == "landed")
        .group_by("landing_run_id", "table_name")
        .agg(
            *[pl.col(c).sum() for c in counts],
            pl.min_horizontal(*[pl.col(c).min() for c in counts]).alias("min_count"),
        )
        .with_columns(
            (
                pl.col("rows_landed") + pl.col("rows_quarantined") + pl.col("duplicates") + pl.col("skipped")
            ).alias("lines_accounted")
        )
        .sort("landing_run_id", "table_name")
    )


def load_ledger(
    root: Path, table: str | None = None, delivery_date: dt.date | Sequence[dt.date] | None = None
) -> pl.DataFrame:
    """Ledger rows (of one bronze table and delivery day or days when given); empty with the schema if none."""
    from lakehouse import storage

    path = root / "delta" / "bronze" / LEDGER_TABLE
    if not storage.table_exists(path):
        return pl.DataFrame(schema=LEDGER_SCHEMA)
    filters: list[tuple[str, str, object]] = []
    if table is not None:
        filters.append(("table_name", "=", table))
    if isinstance(delivery_date, dt.date):
        filters.append(("delivery_date", "=", delivery_date))
    elif delivery_date is not None:
        filters.append(("delivery_date", "in", list(delivery_date)))
    frame = pl.from_arrow(storage.read_table(path, filters=filters or None))
    assert isinstance(frame, pl.DataFrame)
    return frame
