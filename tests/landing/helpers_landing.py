"""Helpers shared by the landing tests: read bronze tables and scan written bytes."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from lakehouse import storage
from lakehouse.config import paths


def table(root: Path, name: str) -> pl.DataFrame:
    frame = pl.from_arrow(storage.read_table(paths(root).table("bronze", name)))
    assert isinstance(frame, pl.DataFrame)
    return frame


def leaks(root: Path, needles: list[str]) -> list[str]:
    """Every (file, needle) where a raw value occurs under delta/: in the raw bytes of every file
    (Parquet, _delta_log JSON, checkpoints) and in the decoded values of every Parquet file
    (compression could hide a value from a byte scan)."""
    found: list[str] = []
    encoded = [n.encode() for n in needles]
    for f in sorted((root / "delta").rglob("*")):
        if not f.is_file():
            continue
        data = f.read_bytes()
        found += [f"{f}: {n!r} in bytes" for n in encoded if n in data]
        if f.suffix == ".parquet":
            t = pq.read_table(f)
            text = "\n".join(str(v) for col in t.columns for v in col.to_pylist())
            found += [f"{f}: {n!r} in values" for n in needles if n in text]
    return found
