"""The dbt command lines Beacon runs, built by small pure functions (unit-tested, no I/O).

Keeping argument building pure means the exact dbt invocation for a partition, a backfill or a
full refresh can be asserted in a test without running dbt, and both dbt assets share one
definition of the window semantics (half-open ``[start_date, end_date)`` plus ``lookback_days``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from dagster import TimeWindow

#: How many days late an event may arrive and still be handled by a daily run (dbt var lookback_days).
DEFAULT_LOOKBACK_DAYS = 3


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def partition_vars(start: date | datetime, end: date | datetime) -> dict[str, str]:
    """dbt vars for the half-open window ``[start, end)`` of UTC dates."""
    start_d, end_d = _as_date(start), _as_date(end)
    if end_d <= start_d:
        raise ValueError(f"empty window: end {end_d} must be after start {start_d}")
    return {"start_date": start_d.isoformat(), "end_date": end_d.isoformat()}


def build_dbt_args(
    time_window: TimeWindow | None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    full_refresh: bool = False,
    reference_date: date | None = None,
    extra_vars: Mapping[str, Any] | None = None,
    unit_tests: bool = True,
) -> list[str]:
    """Arguments of ONE ``dbt build`` (the selection is added by dagster-dbt from the context).

    A time window makes it a windowed incremental run; ``full_refresh`` rebuilds incremental
    models from all of bronze (the window vars are then ignored by the models). ``unit_tests=False``
    leaves dbt's unit tests out: they check SQL logic on fixed inputs, not the data, so a team that
    runs them in CI may skip them in scheduled production runs (dbt's own advice), where on a
    cluster each one costs a round of temporary tables.
    """
    if lookback_days < 0:
        raise ValueError("lookback_days must be >= 0")
    dbt_vars: dict[str, Any] = {"lookback_days": lookback_days}
    if time_window is not None:
        dbt_vars.update(partition_vars(time_window.start, time_window.end))
    if reference_date is not None:
        dbt_vars["reference_date"] = reference_date.isoformat()
    if extra_vars:
        dbt_vars.update(extra_vars)
    args = ["build", "--vars", json.dumps(dbt_vars, sort_keys=True)]
    if full_refresh:
        args.append("--full-refresh")
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    return args


def docs_args(target_path: str) -> list[str]:
    """Arguments of ``dbt docs generate`` writing the static site to ``target_path``."""
    return ["docs", "generate", "--target-path", target_path]
