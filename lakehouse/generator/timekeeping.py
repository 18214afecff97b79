"""Time zones, daylight saving, holidays and the daily/weekly rhythm of people.

Real trackers write ``occurred_at`` with the device's local offset, and people shop and move
around their homes by *local* time. The generator simulates in UTC microseconds and looks up
each zone's offset once per day (a day-granular DST switch is plenty for behaviour data), so
the per-event work stays a vectorised add.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

US_PER_SECOND = 1_000_000
US_PER_MINUTE = 60 * US_PER_SECOND
US_PER_HOUR = 60 * US_PER_MINUTE
US_PER_DAY = 24 * US_PER_HOUR
EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class Zone:
    """A place users live in: country, standard offset, DST rule and shop currency."""

    name: str
    country: str
    base_minutes: int
    dst: str | None  # "eu", "us" or None
    weight: float
    currency: str
    whole_hour: bool = True


ZONES: tuple[Zone, ...] = (
    Zone("Europe/Berlin", "DE", 60, "eu", 0.22, "EUR"),
    Zone("Europe/Paris", "FR", 60, "eu", 0.14, "EUR"),
    Zone("Europe/Amsterdam", "NL", 60, "eu", 0.08, "EUR"),
    Zone("Europe/Madrid", "ES", 60, "eu", 0.07, "EUR"),
    Zone("Europe/Rome", "IT", 60, "eu", 0.07, "EUR"),
    Zone("Europe/Warsaw", "PL", 60, "eu", 0.04, "EUR"),
    Zone("Europe/Stockholm", "SE", 60, "eu", 0.03, "EUR"),
    Zone("Europe/London", "GB", 0, "eu", 0.12, "GBP"),
    Zone("Europe/Dublin", "IE", 0, "eu", 0.02, "EUR"),
    Zone("Europe/Lisbon", "PT", 0, "eu", 0.03, "EUR"),
    Zone("America/New_York", "US", -300, "us", 0.10, "USD"),
    Zone("America/Los_Angeles", "US", -480, "us", 0.05, "USD"),
    Zone("Asia/Kolkata", "IN", 330, None, 0.03, "USD", whole_hour=False),
)
ZONE_WEIGHTS = np.array([z.weight for z in ZONES]) / sum(z.weight for z in ZONES)
#: Zones a smart home may be in (whole-hour offsets keep hourly occupancy aligned with UTC hours).
HOME_ZONES = np.array([i for i, z in enumerate(ZONES) if z.whole_hour])
EUR_RATE = {"EUR": 1.0, "GBP": 0.86, "USD": 1.08}

#: Public holidays shared by most of the countries above: homes behave as on a Sunday.
HOLIDAYS: frozenset[tuple[int, int]] = frozenset(
    {(1, 1), (1, 6), (5, 1), (12, 24), (12, 25), (12, 26), (12, 31)}
)


def _last_sunday(year: int, month: int) -> dt.date:
    day = dt.date(year, month + 1, 1) - dt.timedelta(days=1) if month < 12 else dt.date(year, 12, 31)
    return day - dt.timedelta(days=(day.weekday() + 1) % 7)


def _nth_sunday(year: int, month: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    first_sunday = first + dt.timedelta(days=(6 - first.weekday()) % 7)
    return first_sunday + dt.timedelta(weeks=n - 1)


def is_dst(rule: str | None, day: dt.date) -> bool:
    """Whether summer time applies on ``day`` (switch days count as the new regime)."""
    if rule == "eu":
        return _last_sunday(day.year, 3) <= day < _last_sunday(day.year, 10)
    if rule == "us":
        return _nth_sunday(day.year, 3, 2) <= day < _nth_sunday(day.year, 11, 1)
    return False


def zone_offsets(day: dt.date) -> np.ndarray:
    """Minutes east of UTC of every zone on ``day``."""
    return np.array([z.base_minutes + (60 if is_dst(z.dst, day) else 0) for z in ZONES], dtype=np.int64)


def offset_text(minutes: int) -> str:
    """ISO-8601 offset suffix: ``+01:00``, ``-05:00``, ``+05:30``."""
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def day_start_us(day: dt.date) -> int:
    """Microseconds since the epoch at 00:00 UTC of ``day``."""
    return (day - EPOCH).days * US_PER_DAY


def is_rest_day(day: dt.date) -> bool:
    """Weekend or public holiday."""
    return day.weekday() >= 5 or (day.month, day.day) in HOLIDAYS


def format_iso(t_us: pl.Expr, offset_minutes: pl.Expr, suffix: pl.Expr) -> pl.Expr:
    """``t_us`` (UTC epoch microseconds) as local ISO-8601 text with milliseconds and ``suffix``."""
    local = (t_us + offset_minutes * US_PER_MINUTE).cast(pl.Datetime("us"))
    return pl.concat_str([local.dt.strftime("%Y-%m-%dT%H:%M:%S%.3f"), suffix])


def format_iso_seconds(t_us: pl.Expr, offset_minutes: pl.Expr, suffix: pl.Expr) -> pl.Expr:
    """Like :func:`format_iso` with whole seconds (what home hubs usually send)."""
    local = (t_us + offset_minutes * US_PER_MINUTE).cast(pl.Datetime("us"))
    return pl.concat_str([local.dt.strftime("%Y-%m-%dT%H:%M:%S"), suffix])


# Share of a day's web sessions starting in each local hour (people shop after work and at lunch).
_WEEKDAY_HOURS = np.array(
    [
        1.2,
        0.6,
        0.3,
        0.2,
        0.2,
        0.4,
        1.2,
        2.6,
        3.6,
        4.0,
        4.2,
        4.6,
        5.6,
        5.4,
        4.6,
        4.4,
        4.6,
        5.0,
        5.8,
        7.0,
        8.2,
        8.4,
        6.6,
        3.4,
    ]
)
_WEEKEND_HOURS = np.array(
    [
        2.0,
        1.2,
        0.6,
        0.3,
        0.2,
        0.3,
        0.6,
        1.4,
        3.0,
        4.6,
        5.8,
        6.2,
        6.0,
        5.8,
        5.8,
        5.6,
        5.4,
        5.4,
        5.8,
        6.6,
        7.2,
        7.0,
        5.6,
        3.6,
    ]
)
WEB_HOURS = {False: _WEEKDAY_HOURS / _WEEKDAY_HOURS.sum(), True: _WEEKEND_HOURS / _WEEKEND_HOURS.sum()}
#: Relative web traffic by weekday (Monday first): Sunday evening and Monday are busiest.
WEEKDAY_FACTOR = np.array([1.10, 1.04, 1.0, 0.98, 0.90, 0.86, 1.12])
