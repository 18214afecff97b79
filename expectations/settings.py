"""Thresholds the checks share with the rest of Beacon, read from where they are defined.

The late-arrival window is the dbt var ``lookback_days`` (incremental marts re-read that many
days, so a row arriving later is silently missed by them) and the clock-skew tolerance is the
contract's ``MAX_CLOCK_AHEAD``: the checks read both instead of repeating the numbers.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import polars as pl

from lakehouse.config import PROJECT_ROOT
from lakehouse.contracts.clickstream import MAX_CLOCK_AHEAD

DBT_PROJECT_FILE = PROJECT_ROOT / "dbt_project" / "dbt_project.yml"


@lru_cache(maxsize=1)
def _dbt_vars() -> dict[str, Any]:
    if not DBT_PROJECT_FILE.is_file():
        return {}
    import yaml

    return dict((yaml.safe_load(DBT_PROJECT_FILE.read_text()) or {}).get("vars") or {})


def dbt_var(name: str, default: Any) -> Any:
    """A var of the dbt project (``dbt_project.yml``), or ``default`` when it is not declared."""
    value = _dbt_vars().get(name)
    return default if value is None else value


def late_arrival_days() -> int:
    """Days an event may arrive after the UTC day it occurred (dbt ``lookback_days``)."""
    return int(dbt_var("lookback_days", 3))


def clock_ahead_hours() -> float:
    """Hours a device clock may run ahead (the contract's ``MAX_CLOCK_AHEAD``)."""
    start = dt.datetime(2000, 1, 1)
    end = pl.select(pl.lit(start).dt.offset_by(MAX_CLOCK_AHEAD)).item()
    return (end - start).total_seconds() / 3600


#: A collector cannot receive an event after Beacon landed it; allow this much clock drift
#: between the collector's clock and the landing host's.
LANDING_CLOCK_TOLERANCE_MINUTES = 5.0
