"""Bronze Delta tables for the marts tests, written exactly in the shape landing writes them.

The marts tests must not wait for (or depend on) the landing code: they build bronze rows here
from compact event specs, fill every other bronze column with a typed default, and write Delta
with ``deltalake.write_deltalake`` partitioned by ``event_date`` as landing does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from deltalake import write_deltalake

TS = pl.Datetime("us", "UTC")

CLICKSTREAM_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.String,
    "event_type": pl.String,
    "user_id": pl.String,
    "anonymous_id": pl.String,
    "occurred_at": TS,
    "received_at": TS,
    "page_url": pl.String,
    "referrer": pl.String,
    "product_id": pl.String,
    "category": pl.String,
    "price": pl.Float64,
    "quantity": pl.Int32,
    "currency": pl.String,
    "order_id": pl.String,
    "search_query": pl.String,
    "scroll_depth_pct": pl.Float64,
    "engaged_seconds": pl.Float64,
    "device_type": pl.String,
    "user_agent": pl.String,
    "country": pl.String,
    "consent_analytics": pl.Boolean,
    "consent_personalization": pl.Boolean,
    "experiment_id": pl.String,
    "variant": pl.String,
    "tz_offset_minutes": pl.Int32,
    "event_date": pl.Date,
    "_source_file": pl.String,
    "_source_line": pl.Int64,
    "_landed_at": TS,
    "_landing_run_id": pl.String,
}

SENSOR_SCHEMA: dict[str, pl.DataType] = {
    "reading_id": pl.String,
    "home_id": pl.String,
    "device_id": pl.String,
    "room": pl.String,
    "sensor_type": pl.String,
    "value": pl.Float64,
    "unit": pl.String,
    "occurred_at": TS,
    "user_id": pl.String,
    "tz_offset_minutes": pl.Int32,
    "event_date": pl.Date,
    "_source_file": pl.String,
    "_source_line": pl.Int64,
    "_landed_at": TS,
    "_landing_run_id": pl.String,
}

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String,
    "source_file": pl.String,
    "source_line": pl.Int64,
    "reason": pl.String,
    "raw_payload": pl.String,
    "quarantined_at": TS,
    "landing_run_id": pl.String,
    "landing_date": pl.Date,
}

BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
)


def pseudonym(raw: str) -> str:
    """A 64-hex stand-in for an HMAC pseudonym (bronze identifiers are always 64 hex chars)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def ts(text: str) -> datetime:
    """An ISO timestamp (naive = UTC) as an aware UTC datetime."""
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def clickstream_frame(events: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Typed bronze rows from partial event dicts (``occurred_at`` as ISO text or datetime).

    ``user``/``device`` keys are raw ids turned into pseudonyms; ``received_at`` defaults to
    ``occurred_at`` + 2 s; consent defaults to true; identifiers are nulled without analytics
    consent, as landing does.
    """
    rows = []
    for n, spec in enumerate(events):
        row = dict(spec)
        occurred = row["occurred_at"] if isinstance(row["occurred_at"], datetime) else ts(row["occurred_at"])
        received = row.get("received_at") or occurred + timedelta(seconds=2)
        received = received if isinstance(received, datetime) else ts(received)
        consent = row.pop("consent", True)
        user = row.pop("user", None)
        device = row.pop("device", None)
        row.update(
            occurred_at=occurred,
            received_at=received,
            user_id=pseudonym(user) if user and consent else None,
            anonymous_id=pseudonym(device) if device and consent else None,
            consent_analytics=consent,
            consent_personalization=row.get("consent_personalization", consent),
            event_id=row.get("event_id") or f"evt-{n:06d}-{hashlib.md5(repr(spec).encode()).hexdigest()[:8]}",
            _source_line=n,
        )
        rows.append(row)
    present = {key for row in rows for key in row}
    frame = pl.DataFrame(
        rows,
        schema_overrides={k: v for k, v in CLICKSTREAM_SCHEMA.items() if k in present},
        infer_schema_length=None,
    )
    return normalise_clickstream(frame)


def normalise_clickstream(frame: pl.DataFrame) -> pl.DataFrame:
    """Add every missing bronze column with its default and cast to the bronze schema."""
    defaults: dict[str, pl.Expr] = {
        "device_type": pl.lit("desktop"),
        "user_agent": pl.lit(BROWSER_UA),
        "country": pl.lit("DE"),
        "consent_analytics": pl.lit(True),
        "consent_personalization": pl.lit(True),
        "tz_offset_minutes": pl.lit(60),
        "_source_file": pl.lit("landing/clickstream/fixture.jsonl.gz"),
        "_source_line": pl.int_range(pl.len()),
        "_landing_run_id": pl.lit("fixture-run"),
    }
    for name, dtype in CLICKSTREAM_SCHEMA.items():
        if name not in frame.columns:
            frame = frame.with_columns(defaults.get(name, pl.lit(None)).cast(dtype).alias(name))
    frame = frame.with_columns(
        pl.col("received_at").cast(TS).alias("_landed_at"),
        pl.col("occurred_at").cast(TS).dt.date().alias("event_date"),
    )
    return frame.select([pl.col(k).cast(v) for k, v in CLICKSTREAM_SCHEMA.items()])


def write_clickstream(root: Path, frame: pl.DataFrame, mode: str = "append") -> Path:
    """Write (append) bronze clickstream rows to ``<root>/delta/bronze/clickstream_events``."""
    path = root / "delta" / "bronze" / "clickstream_events"
    write_deltalake(str(path), frame.to_arrow(), mode=mode, partition_by=["event_date"])
    return path


def write_empty_side_tables(root: Path) -> None:
    """Empty sensor_readings and quarantine tables, so models over them build on clickstream-only data."""
    bronze = root / "delta" / "bronze"
    sensors = bronze / "sensor_readings"
    if not sensors.exists():
        write_deltalake(
            str(sensors), pl.DataFrame(schema=SENSOR_SCHEMA).to_arrow(), partition_by=["event_date"]
        )
    quarantine = bronze / "quarantine"
    if not quarantine.exists():
        write_deltalake(
            str(quarantine), pl.DataFrame(schema=QUARANTINE_SCHEMA).to_arrow(), partition_by=["landing_date"]
        )
