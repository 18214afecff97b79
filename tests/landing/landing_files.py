"""Builders of landing files for the landing tests (imported by module name, not via conftest)."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

RAW_USER = "u-raw-000123"
RAW_ANON = "a-raw-7f3c9e"
RAW_HOME = "h-raw-0007"


def event(i: int, **over: Any) -> dict[str, Any]:
    """A valid clickstream event; ids are distinctive so a byte scan can find any leak."""
    base: dict[str, Any] = {
        "event_id": f"e-{i:06d}",
        "event_type": "page_view",
        "user_id": f"{RAW_USER}-{i % 7}",
        "anonymous_id": f"{RAW_ANON}-{i % 5}",
        "occurred_at": "2026-01-05T10:00:00.125+01:00",
        "received_at": "2026-01-05T09:00:01.002Z",
        "page_url": "https://shop.example/p/sku-0042",
        "device_type": "mobile",
        "country": "DE",
        "consent_analytics": True,
        "consent_personalization": True,
    }
    base.update(over)
    return base


def write_jsonl(path: Path, lines: list[str | dict[str, Any]]) -> Path:
    """Gzip JSON lines; a str is written as-is (to make malformed lines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    path.write_bytes(gzip.compress(text.encode()))
    return path


SENSOR_HEADER = [
    "reading_id",
    "home_id",
    "device_id",
    "room",
    "sensor_type",
    "value",
    "unit",
    "occurred_at",
    "user_id",
]


def reading(i: int, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "reading_id": f"r-{i:06d}",
        "home_id": f"{RAW_HOME}-{i % 3}",
        "device_id": "co2_sensor-1a2b3c",
        "room": "kitchen",
        "sensor_type": "co2",
        "value": 600 + i,
        "unit": "ppm",
        "occurred_at": "2026-01-05T07:10:00+01:00",
        "user_id": f"{RAW_USER}-{i % 7}",
    }
    base.update(over)
    return base


def write_csv(path: Path, rows: list[dict[str, Any] | str]) -> Path:
    """Gzip CSV with the sensor header; a str row is written verbatim (to make ragged lines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    buf.write(",".join(SENSOR_HEADER) + "\n")
    for r in rows:
        if isinstance(r, str):
            buf.write(r + "\n")
        else:
            w = csv.DictWriter(buf, fieldnames=SENSOR_HEADER, lineterminator="\n")
            w.writerow(r)
    path.write_bytes(gzip.compress(buf.getvalue().encode()))
    return path
