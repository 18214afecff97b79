"""Durable micro-batch files in the landing layout: nothing is acknowledged before it is on disk.

A sender is told "stored" only after :func:`write_durable` returned, which means: the bytes were
written to a temporary file in the target folder, flushed and fsync-ed, the file was renamed to
its final name (atomic on POSIX within one filesystem) and the folder was fsync-ed so the rename
itself survives a power cut. A process killed at any point leaves either no file or a complete
one; a leftover temporary file never matches a landing pattern (``*.jsonl.gz``, ``*.csv.gz``), so
landing never reads half a batch.

File names are unique (time + UUID) so two collectors, or one restarted, never overwrite a batch.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from lakehouse.contracts import SENSORS

#: Suffix of files being written; never matched by the landing's file patterns.
TEMP_SUFFIX = ".partial"
CLICKSTREAM = "clickstream"
SENSORS_SOURCE = "sensors"


def fsync_dir(folder: Path) -> None:
    """Make a rename (or creation) inside ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mkdirs_durable(folder: Path) -> None:
    """Create missing folders and fsync each parent, so a new day folder survives a crash too."""
    missing: list[Path] = []
    p = folder
    while not p.exists():
        missing.append(p)
        p = p.parent
    folder.mkdir(parents=True, exist_ok=True)
    for created in reversed(missing):
        fsync_dir(created.parent)


def write_durable(target: Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically and durably (temp file, flush, fsync, rename, fsync dir)."""
    _mkdirs_durable(target.parent)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}{TEMP_SUFFIX}")
    try:
        with tmp.open("xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return target


def batch_path(landing: Path, source: str, prefix: str, ext: str, now: dt.datetime | None = None) -> Path:
    """``landing/<source>/<UTC day>/<prefix>-<day>-<HHMMSS>-<uuid>.<ext>``: the delivery day is today (UTC)."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    day = now.date().isoformat()
    name = f"{prefix}-{day}-{now:%H%M%S}-{uuid.uuid4().hex}.{ext}"
    return landing / source / day / name


def _gzip(data: bytes) -> bytes:
    # Level 1: micro-batches are small and latency matters more than a few bytes.
    return gzip.compress(data, compresslevel=1, mtime=0)


def write_clickstream_batch(landing: Path, events: Iterable[Any], now: dt.datetime | None = None) -> Path:
    """One gzip JSON-lines file of clickstream events (valid or not: landing quarantines the bad ones)."""
    lines = "".join(
        json.dumps(e, separators=(",", ":"), ensure_ascii=False, default=str) + "\n" for e in events
    )
    return write_durable(batch_path(landing, CLICKSTREAM, "events", "jsonl.gz", now), _gzip(lines.encode()))


def sensor_frame(readings: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Readings as text columns in the sensor contract's order (missing fields empty)."""
    rows = list(readings)
    return pl.DataFrame(
        {n: [None if r.get(n) is None else _text(r[n]) for r in rows] for n in SENSORS.names},
        schema={n: pl.String for n in SENSORS.names},
    )


def _text(value: Any) -> str:
    """CSV cell text; line breaks escaped, since landing rejects a file whose quoted field spans lines."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value).replace("\r", "\\r").replace("\n", "\\n")


def write_sensor_batch(
    landing: Path, readings: Iterable[Mapping[str, Any]], now: dt.datetime | None = None
) -> Path:
    """One gzip CSV of sensor readings with the contract's header."""
    buf = io.BytesIO()
    sensor_frame(readings).write_csv(buf)
    return write_durable(
        batch_path(landing, SENSORS_SOURCE, "readings", "csv.gz", now), _gzip(buf.getvalue())
    )
