"""Do two builds hold the same data? Row counts and an order-free checksum of every column.

Why: moving the marts from DuckDB to Spark must not change a number. Comparing engines needs a
checksum that ignores row order and the engines' type spellings: each value is normalised first
(integers, including decimals of scale 0, as exact integers; other floating and decimal values rounded to :data:`DIGITS` decimals, timestamps as
microseconds since the epoch whatever their time-zone flag, everything else as text), then hashed,
and the hashes are summed. Used by the equivalence tests and ``bench/bench_spark.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import pyarrow as pa

#: Decimal places kept for floating and decimal values (sums of doubles differ in the last bits
#: between engines that add in different orders).
DIGITS = 6


_INTEGERS = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
)


@dataclass(frozen=True)
class Fingerprint:
    """Row count and per-column checksums of one relation."""

    rows: int
    columns: Mapping[str, int]


def _normalised(column: str, type_name: str) -> str:
    quoted = '"' + column.replace('"', '""') + '"'
    t = type_name.upper()
    if t in _INTEGERS or (t.startswith("DECIMAL") and t.replace(" ", "").endswith(",0)")):
        return f"cast({quoted} as hugeint)::varchar"
    if t in {"FLOAT", "DOUBLE", "REAL"} or t.startswith("DECIMAL"):
        # -0.0 and 0.0 are the same number; round() keeps the sign.
        return f"cast(round(cast({quoted} as double), {DIGITS}) + 0.0 as varchar)"
    if t.startswith("TIMESTAMP"):
        return f"cast(epoch_us({quoted}) as varchar)"
    if t == "BOOLEAN":
        return f"cast(cast({quoted} as integer) as varchar)"
    return f"cast({quoted} as varchar)"


def fingerprint(con: duckdb.DuckDBPyConnection, relation: str) -> Fingerprint:
    """The fingerprint of ``relation`` (a table name or a registered Arrow table) in ``con``."""
    described = con.execute(f"describe {relation}").fetchall()
    columns = [(row[0], row[1]) for row in described]
    sums = ", ".join(
        f"coalesce(sum(hash(coalesce({_normalised(c, t)}, '<null>')))::hugeint, 0)" for c, t in columns
    )
    (row,) = con.execute(f"select count(*){', ' + sums if sums else ''} from {relation}").fetchall()
    return Fingerprint(int(row[0]), {c: int(v) for (c, _), v in zip(columns, row[1:], strict=True)})


def arrow_fingerprint(table: pa.Table) -> Fingerprint:
    """:func:`fingerprint` of an Arrow table (e.g. a Delta table read through the storage module)."""
    con = duckdb.connect()
    try:
        con.register("relation", table)
        return fingerprint(con, "relation")
    finally:
        con.close()


def differences(expected: Fingerprint, actual: Fingerprint) -> list[str]:
    """What differs, in words (empty when the two are equal)."""
    out: list[str] = []
    if expected.rows != actual.rows:
        out.append(f"rows {expected.rows} != {actual.rows}")
    missing = sorted(set(expected.columns) - set(actual.columns))
    extra = sorted(set(actual.columns) - set(expected.columns))
    if missing:
        out.append(f"missing columns {missing}")
    if extra:
        out.append(f"extra columns {extra}")
    out += [
        f"column {c!r} differs"
        for c in expected.columns
        if c in actual.columns and expected.columns[c] != actual.columns[c]
    ]
    return out
