"""Helpers for the generator tests: the shared data set's parameters and file readers."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from lakehouse.contracts import CLICKSTREAM, SENSORS, validate_frame
from lakehouse.generator import GenerateSummary

START = dt.date(2026, 1, 5)
USERS, HOMES, DAYS, SEED = 700, 6, 28, 11


@dataclass
class Generated:
    """A generated data set and its files parsed the way a landing job would."""

    summary: GenerateSummary
    landing: Path
    truth: Path
    manifest: dict
    raw_lines: pl.DataFrame  # folder, line
    events: pl.DataFrame  # every line that is JSON, typed and validated (with _reasons, _folder)
    unparseable: int
    readings: pl.DataFrame  # every sensor row, typed and validated (with _reasons, _folder)

    @property
    def valid_events(self) -> pl.DataFrame:
        return self.events.filter(pl.col("_reasons").list.len() == 0)

    @property
    def unique_events(self) -> pl.DataFrame:
        return self.valid_events.unique("event_id", keep="first", maintain_order=True)

    @property
    def valid_readings(self) -> pl.DataFrame:
        return self.readings.filter(pl.col("_reasons").list.len() == 0).unique(
            "reading_id", maintain_order=True
        )

    def truth_table(self, name: str) -> pl.DataFrame:
        return pl.read_parquet(self.truth / f"{name}.parquet")


def read_event_lines(landing: Path) -> pl.DataFrame:
    rows: list[tuple[str, str]] = []
    for path in sorted((landing / "clickstream").glob("*/events-*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            rows.extend((path.parent.name, line) for line in fh.read().splitlines())
    return pl.DataFrame(rows, schema={"_folder": pl.String, "line": pl.String}, orient="row")


def parse_events(lines: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Decode each line with every value as text (like a landing job), counting lines that are not JSON.

    Only complete objects end with ``}``; the others are checked with :func:`json.loads` one by one
    to prove they really are broken.
    """
    whole = lines.filter(pl.col("line").str.ends_with("}"))
    broken = lines.filter(~pl.col("line").str.ends_with("}"))["line"].to_list()
    for line in broken:
        try:
            json.loads(line)
        except json.JSONDecodeError:
            continue
        raise AssertionError(f"line does not end with '}}' but is valid JSON: {line[:80]}")
    schema = {n: pl.String for n in CLICKSTREAM.names}
    payload = ("\n".join(whole["line"].to_list()) + "\n").encode()
    frame = pl.read_ndjson(io.BytesIO(payload), schema=schema).with_columns(_folder=whole["_folder"])
    return validate_frame(CLICKSTREAM, frame).collect(), len(broken)


def read_readings(landing: Path) -> pl.DataFrame:
    frames = [
        pl.read_csv(p, infer_schema=False).with_columns(_folder=pl.lit(p.parent.name))
        for p in sorted((landing / "sensors").glob("*/readings-*.csv.gz"))
    ]
    return validate_frame(SENSORS, pl.concat(frames)).collect()
