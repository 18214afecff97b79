"""Keyed pseudonymisation of identifiers (HMAC-SHA256).

A plain hash of a user id can be reversed by hashing every plausible id; a keyed hash cannot
without the key. Landing replaces ``user_id``, ``anonymous_id`` and ``home_id`` by
``HMAC-SHA256(key, id)`` in hex, so no raw identifier is ever written to a table, while the
same person still gets the same pseudonym everywhere (joins, erasure, the recommendation API).

The vectorised version runs inside DuckDB, which has SHA-256 but no HMAC: HMAC is two nested
hashes over the key XOR-ed with two pads (RFC 2104), which is plain SQL over blobs. It is
checked against Python's :mod:`hmac` in the tests.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import warnings

import duckdb
import polars as pl

KEY_ENV = "BEACON_HMAC_KEY"
#: Demo key. NOT FOR PRODUCTION: anyone with the source can reverse pseudonyms made with it.
DEMO_KEY = "beacon-demo-key-NOT-FOR-PRODUCTION"
_BLOCK = 64  # SHA-256 block size in bytes


class DemoKeyWarning(UserWarning):
    """Raised (as a warning) whenever the built-in demo key is used."""


def resolve_key(value: str | None = None) -> str:
    """The HMAC key: ``value``, else ``$BEACON_HMAC_KEY``, else the demo key with a loud warning."""
    key = value or os.environ.get(KEY_ENV)
    if key:
        return key
    warnings.warn(
        f"{KEY_ENV} is not set: pseudonymising with the built-in DEMO key, which is NOT FOR PRODUCTION "
        f"(anyone with Beacon's source can reverse it). Set {KEY_ENV} to a long random secret.",
        DemoKeyWarning,
        stacklevel=2,
    )
    return DEMO_KEY


def pseudonymise_value(raw: str, key: str) -> str:
    """The pseudonym of one identifier (hex HMAC-SHA256)."""
    return hmac.new(key.encode(), raw.encode(), hashlib.sha256).hexdigest()


def _pads(key: str) -> tuple[bytes, bytes]:
    k = key.encode()
    if len(k) > _BLOCK:
        k = hashlib.sha256(k).digest()
    k = k.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in k), bytes(b ^ 0x5C for b in k)


def hmac_sql(column_sql: str, key: str) -> str:
    """DuckDB SQL expression for the hex HMAC-SHA256 of a VARCHAR expression under ``key``."""
    ipad, opad = (f"unhex('{pad.hex()}')" for pad in _pads(key))
    return f"sha256({opad} || unhex(sha256({ipad} || encode({column_sql}))))"


def pseudonymise_columns(frame: pl.DataFrame, columns: list[str], key: str) -> pl.DataFrame:
    """Replace each of ``columns`` by its pseudonym (nulls stay null), vectorised in DuckDB.

    Only distinct values are hashed (ids repeat across events), then joined back by polars.
    """
    present = [c for c in columns if c in frame.columns]
    if not present or frame.height == 0:
        return frame
    con = duckdb.connect()
    try:
        out = frame
        for c in present:
            distinct = frame.select(pl.col(c).cast(pl.String).unique().drop_nulls().alias("raw"))
            con.register("ids", distinct.to_arrow())
            mapped = pl.from_arrow(
                con.sql(f"SELECT raw, {hmac_sql('raw', key)} AS pseudonym FROM ids").to_arrow_table()
            )
            con.unregister("ids")
            assert isinstance(mapped, pl.DataFrame)
            out = out.with_columns(
                pl.col(c).cast(pl.String).replace_strict(mapped["raw"], mapped["pseudonym"], default=None)
            )
    finally:
        con.close()
    return out
