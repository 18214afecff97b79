"""Deterministic random identifiers, made in bulk.

Formatting a million UUIDs one by one in Python costs seconds; hex-encoding one block of random
bytes and slicing it costs milliseconds, and the same seeded generator gives the same ids.
"""

from __future__ import annotations

import binascii

import numpy as np
import polars as pl


def day_rng(seed: int, day: int, stream: int) -> np.random.Generator:
    """An independent generator per (seed, day, purpose): a day's data never depends on call order."""
    return np.random.default_rng([seed & 0xFFFFFFFF, day + 10_000, stream])


def hex_strings(rng: np.random.Generator, n: int, n_bytes: int) -> pl.Series:
    """``n`` random lowercase hex strings of ``2 * n_bytes`` characters."""
    if n == 0:
        return pl.Series([], dtype=pl.String)
    raw = rng.integers(0, 256, size=n * n_bytes, dtype=np.uint8).tobytes()
    chunks = np.frombuffer(binascii.hexlify(raw), dtype=f"S{2 * n_bytes}")
    return pl.Series(chunks).cast(pl.String)


def uuid4_strings(rng: np.random.Generator, n: int) -> pl.Series:
    """``n`` random RFC 4122 version-4 UUIDs as text (what Segment and Snowplow trackers send).

    Built as one ``(n, 36)`` byte matrix: hex digits in place, dashes, the version digit ``4``
    and a variant digit in ``89ab``, then read as fixed-width strings.
    """
    if n == 0:
        return pl.Series([], dtype=pl.String)
    raw = rng.integers(0, 256, size=n * 16, dtype=np.uint8).tobytes()
    hexed = np.frombuffer(binascii.hexlify(raw), dtype=np.uint8).reshape(n, 32)
    out = np.empty((n, 36), dtype=np.uint8)
    out[:, [8, 13, 18, 23]] = ord("-")
    digits = [i for i in range(36) if i not in (8, 13, 18, 23)]
    out[:, digits] = hexed
    out[:, 14] = ord("4")
    out[:, 19] = np.frombuffer(b"89ab", dtype=np.uint8)[hexed[:, 16] % 4]
    return pl.Series(np.frombuffer(out.tobytes(), dtype="S36")).cast(pl.String)


def unique_hex(rng: np.random.Generator, n: int, n_bytes: int, taken: set[str] | None = None) -> list[str]:
    """``n`` distinct hex strings (for the few thousand device and anonymous ids of a data set)."""
    taken = set() if taken is None else taken
    out: list[str] = []
    while len(out) < n:
        for value in hex_strings(rng, n - len(out), n_bytes).to_list():
            if value not in taken:
                taken.add(value)
                out.append(value)
    return out
