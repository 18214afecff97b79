"""Helpers shared by the landing tests: read bronze tables and scan written bytes."""

from __future__ import annotations

import re
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
    (compression could hide a value from a byte scan).

    A needle that starts or ends with a digit must not continue into more digits: the raw id
    ``99881`` is a leak, the commit timestamp ``1796615499881`` (ms) is not (it failed CI once).
    """
    found: list[str] = []
    patterns = [(n, _whole(n)) for n in needles]
    for f in sorted((root / "delta").rglob("*")):
        if not f.is_file():
            continue
        data = f.read_bytes()
        found += [f"{f}: {n.encode()!r} in bytes" for n, pattern in patterns if pattern.search(data)]
        if f.suffix == ".parquet":
            t = pq.read_table(f)
            text = "\n".join(str(v) for col in t.columns for v in col.to_pylist()).encode()
            found += [f"{f}: {n!r} in values" for n, pattern in patterns if pattern.search(text)]
    return found


def _whole(needle: str) -> re.Pattern[bytes]:
    """``needle`` as a bytes pattern that does not match inside a longer run of digits."""
    body = re.escape(needle.encode())
    before = rb"(?<![0-9])" if needle[:1].isdigit() else b""
    after = rb"(?![0-9])" if needle[-1:].isdigit() else b""
    return re.compile(before + body + after)
