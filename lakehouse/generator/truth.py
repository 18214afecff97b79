"""Ground truth: what the generator planted, for tests and model evaluation only.

The pipeline never reads this folder. Identifiers are RAW (``u000123``, ``a-…``, ``h0007``);
whoever compares them with the lakehouse pseudonymises them with the same key first.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.generator.catalogue import CATEGORY_NAMES, Catalogue
from lakehouse.generator.clickstream_lines import LineStats
from lakehouse.generator.households import HOUSEHOLDS, ROOMS
from lakehouse.generator.population import (
    ALL_AGENTS,
    EXPERIMENT_ID,
    EXPERIMENT_UPLIFT,
    NEVER,
    PERSONAS,
    VARIANTS,
    Population,
)
from lakehouse.generator.timekeeping import ZONES

TRUTH_FILES = (
    "users.parquet",
    "bots.parquet",
    "experiment.parquet",
    "occupancy.parquet",
    "appliance_anomalies.parquet",
    "reorders.parquet",
    "homes.parquet",
    "devices.parquet",
    "products.parquet",
    "manifest.json",
)


def _date_or_null(start: dt.date, days: np.ndarray, limit: int) -> list[dt.date | None]:
    return [None if d >= limit or d < 0 else start + dt.timedelta(days=int(d)) for d in days]


class OccupancyWriter:
    """Streams hourly occupancy truth to one Parquet file, a row group per simulated day."""

    SCHEMA = pa.schema(
        [
            ("home_id", pa.string()),
            ("room", pa.string()),
            ("hour_start", pa.timestamp("us", "UTC")),
            ("occupied", pa.bool_()),
        ]
    )

    def __init__(self, path: Path):
        self.writer = pq.ParquetWriter(path, self.SCHEMA)
        self.rows = 0

    def write(self, frame: pl.DataFrame) -> None:
        if frame.height:
            self.writer.write_table(frame.to_arrow().cast(self.SCHEMA))
            self.rows += frame.height

    def close(self) -> None:
        self.writer.close()


def users_frame(
    pop: Population,
    start: dt.date,
    days: int,
    first: np.ndarray,
    last: np.ndarray,
    sessions: np.ndarray,
    home_ids: list[str],
) -> pl.DataFrame:
    """One row per simulated person plus one per bot."""
    n = pop.n_users
    anon = [pop.anonymous_ids[s : s + c] for s, c in zip(pop.dev_start, pop.dev_count, strict=True)]
    registered = np.minimum.reduceat(
        pop.dev_login_day[: len(pop.dev_user) - len(pop.bot_devices)], pop.dev_start
    )
    people = pl.DataFrame(
        {
            "user_id": pop.user_ids,
            "anonymous_ids": anon,
            "persona": [PERSONAS[p] for p in pop.persona],
            "is_bot": np.zeros(n, dtype=bool),
            "country": [ZONES[z].country for z in pop.zone],
            "timezone": [ZONES[z].name for z in pop.zone],
            "arrival_date": _date_or_null(start, pop.arrival_day, days),
            "first_session_date": _date_or_null(start, first, days),
            "last_session_date": _date_or_null(start, last, days),
            "sessions": sessions,
            "registered": registered < days,
            "churned": pop.is_churner,
            "churn_date": _date_or_null(start, np.where(pop.is_churner, pop.churn_day, NEVER), days + 1),
            "consent_analytics": pop.consent_analytics,
            "consent_personalization": pop.consent_personalization,
            "experiment_id": [EXPERIMENT_ID if v >= 0 else None for v in pop.variant],
            "variant": [VARIANTS[v] if v >= 0 else None for v in pop.variant],
            "home_id": [home_ids[h] if h >= 0 else None for h in pop.home_of_user],
        },
        schema_overrides={
            "user_id": pl.String,
            "experiment_id": pl.String,
            "variant": pl.String,
            "home_id": pl.String,
            "arrival_date": pl.Date,
            "first_session_date": pl.Date,
            "last_session_date": pl.Date,
            "churn_date": pl.Date,
        },
    )
    bots = bots_frame(pop)
    bot_rows = pl.DataFrame(
        {
            "user_id": [None] * bots.height,
            "anonymous_ids": [[a] for a in bots["anonymous_id"]],
            "persona": ["bot"] * bots.height,
            "is_bot": [True] * bots.height,
            "country": bots["country"],
            "timezone": bots["timezone"],
        }
    )
    return pl.concat([people, bot_rows], how="diagonal_relaxed")


def bots_frame(pop: Population) -> pl.DataFrame:
    b = pop.bot_devices
    return pl.DataFrame(
        {
            "anonymous_id": [pop.anonymous_ids[i] for i in b],
            "user_agent": [ALL_AGENTS[pop.dev_agent[i]] for i in b],
            "country": [ZONES[pop.dev_zone[i]].country for i in b],
            "timezone": [ZONES[pop.dev_zone[i]].name for i in b],
        }
    )


def experiment_frame(pop: Population, checkouts: np.ndarray, purchases: np.ndarray) -> pl.DataFrame:
    """Per variant: people, sessions that started a checkout, and how many of those bought."""
    users = np.bincount(pop.variant[pop.variant >= 0], minlength=2)
    return pl.DataFrame(
        {
            "experiment_id": [EXPERIMENT_ID] * 2,
            "variant": list(VARIANTS),
            "users": users,
            "checkout_sessions": checkouts,
            "purchase_sessions": purchases,
            "conversion": purchases / np.maximum(1, checkouts),
            "true_uplift": [1.0, EXPERIMENT_UPLIFT],
        }
    )


def reorders_frame(
    shop: list[tuple[int, int, int, int, int, int, int]],
    offline: list[dict[str, Any]],
    home_ids: list[str],
    pop: Population,
    cat: Catalogue,
    start: dt.date,
) -> pl.DataFrame:
    """Consumable re-orders: in the shop (with the order id the clickstream carries) or offline."""
    shop_rows = pl.DataFrame(
        {
            "home_id": [home_ids[r[0]] for r in shop],
            "user_id": [pop.user_ids[r[1]] for r in shop],
            "category": [CATEGORY_NAMES[r[2]] for r in shop],
            "product_id": [cat.product_ids[r[3]] for r in shop],
            "order_id": [f"o-{r[4]:07d}" for r in shop],
            "ordered_at": pl.Series([r[5] for r in shop], dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
            "quantity": [r[6] for r in shop],
            "channel": ["shop"] * len(shop),
        },
        schema_overrides={
            "home_id": pl.String,
            "user_id": pl.String,
            "category": pl.String,
            "product_id": pl.String,
            "order_id": pl.String,
            "quantity": pl.Int64,
            "channel": pl.String,
        },
    )
    off_rows = pl.DataFrame(
        {
            "home_id": [home_ids[r["home"]] for r in offline],
            "user_id": pl.Series([None] * len(offline), dtype=pl.String),
            "category": [r["category"] for r in offline],
            "product_id": pl.Series([None] * len(offline), dtype=pl.String),
            "order_id": pl.Series([None] * len(offline), dtype=pl.String),
            "ordered_at": pl.Series(
                [
                    dt.datetime.combine(start + dt.timedelta(days=r["day"]), dt.time(), dt.UTC)
                    for r in offline
                ],
                dtype=pl.Datetime("us", "UTC"),
            ),
            "quantity": [r["quantity"] for r in offline],
            "channel": ["offline"] * len(offline),
        },
        schema_overrides={
            "home_id": pl.String,
            "category": pl.String,
            "quantity": pl.Int64,
            "channel": pl.String,
        },
    )
    return pl.concat([shop_rows, off_rows], how="vertical_relaxed").sort("ordered_at", "home_id", "category")


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    frame.write_parquet(path, statistics=False)


def manifest(
    params: dict[str, Any],
    lines: LineStats,
    sensors: dict[str, int],
    pop: Population,
    experiment: pl.DataFrame,
    homes_info: dict[str, Any],
) -> dict[str, Any]:
    """Counts and shares of everything planted (the numbers tests and docs quote)."""
    malformed = sum(lines.malformed.values())
    n_users = pop.n_users
    no_consent_users = int((~pop.consent_analytics).sum())
    exp = experiment.to_dicts()
    return {
        "params": params,
        "clickstream": {
            "events": lines.events,
            "lines": lines.lines,
            "valid_events": lines.events - malformed,
            "duplicate_lines": lines.duplicate_lines,
            "duplicate_share": lines.duplicate_lines / max(1, lines.events),
            "late_events": lines.late_events,
            "late_share": lines.late_events / max(1, lines.events),
            "late_threshold_minutes": 60,
            "malformed_lines": malformed,
            "malformed_share": malformed / max(1, lines.lines),
            "malformed_by_kind": lines.malformed,
            "no_consent_events": lines.no_consent_events,
            "no_consent_share": lines.no_consent_events / max(1, lines.events),
            "no_personalization_events": lines.no_personalization_events,
            "no_consent_users": no_consent_users,
            "no_consent_user_share": no_consent_users / max(1, n_users),
            "no_personalization_users": int((~pop.consent_personalization).sum()),
            "bot_ids": len(pop.bot_devices),
            "bot_events": lines.bot_events,
            "bot_share": lines.bot_events / max(1, lines.events),
            "events_by_type": lines.events_by_type,
            "dropped_after_window": lines.dropped_after_window,
        },
        "users": {
            "people": n_users,
            "personas": {p: int((pop.persona == i).sum()) for i, p in enumerate(PERSONAS)},
            "churners": int(pop.is_churner.sum()),
            "devices": int(len(pop.dev_user) - len(pop.bot_devices)),
            "multi_device_people": int((pop.dev_count > 1).sum()),
            "linked_shoppers": int((pop.home_of_user >= 0).sum()),
        },
        "experiment": {
            "experiment_id": EXPERIMENT_ID,
            "true_uplift": EXPERIMENT_UPLIFT,
            "metric": "P(purchase | checkout_started) per session",
            "variants": exp,
        },
        "sensors": {
            "readings": sensors.get("readings", 0),
            "lines": sensors.get("lines", 0),
            "duplicate_lines": sensors.get("duplicate_lines", 0),
            "bad_unit": sensors.get("bad_unit", 0),
            "non_numeric": sensors.get("non_numeric", 0),
            "malformed_lines": sensors.get("bad_unit", 0) + sensors.get("non_numeric", 0),
            "late_lines": sensors.get("late", 0),
            "late_readings": sensors.get("late_readings", 0),
        },
        "homes": homes_info,
        "rooms": list(ROOMS),
        "households": list(HOUSEHOLDS),
    }


def write_manifest(data: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
