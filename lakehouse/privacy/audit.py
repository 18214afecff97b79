"""The erasure audit: proof that a request was carried out, without saying whom it was about.

One row per place an erasure looked at (``bronze.clickstream_events``, ``landing``,
``published:marts.duckdb``...): when, how many rows/lines it removed and how many files it
rewrote. The person is named by a one-way salted request id ``sha256(salt ":" pseudonym)``;
the salt is random per request, shown once to whoever ran the erasure (their receipt) and never
stored, so the audit alone cannot be linked back to the person, while the requester can later
prove which request was theirs by recomputing the id from the receipt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from lakehouse import storage
from lakehouse.config import DataPaths

AUDIT_LAYER = "privacy"
AUDIT_TABLE = "erasure_audit"
AUDIT_SCHEMA = pl.Schema(
    {
        "request_id": pl.String(),
        "requested_at": pl.Datetime("us", "UTC"),
        "completed_at": pl.Datetime("us", "UTC"),
        "place": pl.String(),
        "rows_removed": pl.Int64(),
        "files_rewritten": pl.Int64(),
        "run_id": pl.String(),
    }
)


@dataclass(frozen=True)
class Receipt:
    """What the requester keeps: the audit's request id and the salt that links it to them."""

    request_id: str
    salt: str


@dataclass(frozen=True)
class PlaceResult:
    """What erasure did in one place."""

    place: str
    rows_removed: int
    files_rewritten: int = 0


def new_receipt(pseudonym: str) -> Receipt:
    """A fresh random salt and the request id it gives for ``pseudonym``."""
    salt = secrets.token_hex(16)
    return Receipt(request_id=request_id(pseudonym, salt), salt=salt)


def request_id(pseudonym: str, salt: str) -> str:
    """``sha256(salt ":" pseudonym)``: recomputable from a receipt, not reversible without it."""
    return hashlib.sha256(f"{salt}:{pseudonym}".encode()).hexdigest()


def audit_path(paths: DataPaths) -> Path:
    return paths.table(AUDIT_LAYER, AUDIT_TABLE)


def record(
    paths: DataPaths,
    receipt: Receipt,
    requested_at: dt.datetime,
    places: Sequence[PlaceResult],
    run_id: str,
) -> int:
    """Append one audit row per place in one commit; returns the audit table's version."""
    now = dt.datetime.now(dt.UTC)
    rows = pl.DataFrame(
        {
            "request_id": [receipt.request_id] * len(places),
            "requested_at": [requested_at] * len(places),
            "completed_at": [now] * len(places),
            "place": [p.place for p in places],
            "rows_removed": [p.rows_removed for p in places],
            "files_rewritten": [p.files_rewritten for p in places],
            "run_id": [run_id] * len(places),
        },
        schema=AUDIT_SCHEMA,
    )
    return storage.write_partitions(audit_path(paths), rows, None)


def read_audit(paths: DataPaths) -> pl.DataFrame:
    """Every audit row (empty with the schema when no erasure ran yet)."""
    return storage.read_frame(audit_path(paths), AUDIT_SCHEMA)
