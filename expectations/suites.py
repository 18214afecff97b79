"""Load the data a suite validates and run it: the functions the Dagster checks call.

Each returns a :class:`~expectations.runner.SuiteRun`; none raises on bad data. ``days`` are
delivery days (the bronze assets' partitions): one day, the days of a range run (a single-run
backfill validates every partition of its window), or None for the whole table. Bronze rows are
validated in batches of whole ``event_date`` partitions (bounded memory) and the batches'
results merged into one per suite (:func:`expectations.runner.merge_runs`).

``build_index=False`` skips the Data Docs index rebuild: a caller running several suites in one
step rebuilds it once at the end (``quality_context(p.gx).build_index()``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from expectations.bronze import bronze_suite, empty_bronze_frame, load_bronze_batches, prepare_bronze_frame
from expectations.distribution import distribution_frame, distribution_suite
from expectations.landing_ledger import ledger_frame, ledger_suite, load_ledger
from expectations.marts import LAYOUT, MartCheck, MartLayout, connect, mart_checks
from expectations.runner import SuiteRun, merge_runs, quality_context, run_suite
from lakehouse.config import DataPaths

Days = dt.date | Sequence[dt.date] | None


def as_days(days: Days) -> list[dt.date] | None:
    """``days`` as a sorted list (None stays None: the whole table)."""
    if days is None:
        return None
    if isinstance(days, dt.date):
        return [days]
    return sorted(set(days))


def _label(partitions: Sequence[dt.date]) -> str:
    if not partitions:
        return "no rows"
    first, last = min(partitions), max(partitions)
    return f"event_date {first}" if first == last else f"event_date {first}..{last}"


def run_bronze(
    p: DataPaths, table: str, days: Days, *, docs: bool = True, build_index: bool = True
) -> SuiteRun:
    suite = bronze_suite(table)
    qc = quality_context(p.gx)
    runs: list[SuiteRun] = []
    labels: list[str] = []
    for partitions, frame in load_bronze_batches(p.root, table, as_days(days)):
        runs.append(run_suite(suite, prepare_bronze_frame(table, frame), qc, docs=docs, build_index=False))
        labels.append(_label(partitions))
    if not runs:  # nothing delivered: the schema check still runs on the empty, typed frame
        frame = prepare_bronze_frame(table, empty_bronze_frame(table))
        runs, labels = [run_suite(suite, frame, qc, docs=docs, build_index=False)], [_label([])]
    if docs and build_index:
        qc.build_index()
    return merge_runs(suite, runs, labels)


def run_ledger(
    p: DataPaths, table: str, days: Days, *, docs: bool = True, build_index: bool = True
) -> SuiteRun:
    frame = ledger_frame(load_ledger(p.root, table, as_days(days)))
    return run_suite(ledger_suite(), frame, quality_context(p.gx), docs=docs, build_index=build_index)


def run_distribution(
    p: DataPaths, table: str, days: Days, *, docs: bool = True, build_index: bool = True
) -> SuiteRun:
    wanted = as_days(days)
    if wanted is None:
        frame = distribution_frame(p.root, table, None)
    else:
        frames = [distribution_frame(p.root, table, day) for day in wanted]
        frame = (
            pl.concat(frames, how="diagonal_relaxed") if frames else distribution_frame(p.root, table, None)
        )
    return run_suite(
        distribution_suite(table), frame, quality_context(p.gx), docs=docs, build_index=build_index
    )


def run_mart(
    p: DataPaths,
    check: MartCheck,
    layout: MartLayout = LAYOUT,
    *,
    docs: bool = True,
    build_index: bool = True,
) -> SuiteRun:
    with connect(p.root) as con:
        frame = check.frame(con, layout)
    return run_suite(check.suite, frame, quality_context(p.gx), docs=docs, build_index=build_index)


def run_marts(p: DataPaths, layout: MartLayout = LAYOUT, *, docs: bool = True) -> list[SuiteRun]:
    runs = [run_mart(p, c, layout, docs=docs, build_index=False) for c in mart_checks(layout)]
    if docs:
        quality_context(p.gx).build_index()
    return runs
