"""Load the data a suite validates and run it: the functions the Dagster checks call.

Each returns a :class:`~expectations.runner.SuiteRun`; none raises on bad data. ``day`` is a
delivery day (the bronze assets' partition) or None for the whole table.
"""

from __future__ import annotations

import datetime as dt

from expectations.bronze import bronze_suite, load_bronze_delivery, prepare_bronze_frame
from expectations.distribution import distribution_frame, distribution_suite
from expectations.landing_ledger import ledger_frame, ledger_suite, load_ledger
from expectations.marts import LAYOUT, MartCheck, MartLayout, connect, mart_checks
from expectations.runner import SuiteRun, quality_context, run_suite
from lakehouse.config import DataPaths


def run_bronze(p: DataPaths, table: str, day: dt.date | None, *, docs: bool = True) -> SuiteRun:
    frame = prepare_bronze_frame(table, load_bronze_delivery(p.root, table, day))
    return run_suite(bronze_suite(table), frame, quality_context(p.gx), docs=docs)


def run_ledger(p: DataPaths, table: str, day: dt.date | None, *, docs: bool = True) -> SuiteRun:
    frame = ledger_frame(load_ledger(p.root, table, day))
    return run_suite(ledger_suite(), frame, quality_context(p.gx), docs=docs)


def run_distribution(p: DataPaths, table: str, day: dt.date | None, *, docs: bool = True) -> SuiteRun:
    frame = distribution_frame(p.root, table, day)
    return run_suite(distribution_suite(table), frame, quality_context(p.gx), docs=docs)


def run_mart(p: DataPaths, check: MartCheck, layout: MartLayout = LAYOUT, *, docs: bool = True) -> SuiteRun:
    with connect(p.root) as con:
        frame = check.frame(con, layout)
    return run_suite(check.suite, frame, quality_context(p.gx), docs=docs)


def run_marts(p: DataPaths, layout: MartLayout = LAYOUT, *, docs: bool = True) -> list[SuiteRun]:
    return [run_mart(p, c, layout, docs=docs) for c in mart_checks(layout)]
