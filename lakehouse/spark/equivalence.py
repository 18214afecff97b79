"""Do two builds hold the same data? Row counts and an order-free checksum of every column.

Why: moving the marts from DuckDB to Spark must not change a number. Comparing engines needs a
checksum that ignores row order and the engines' type spellings: each value is normalised first
(integers, including decimals of scale 0, as exact integers; timestamps as microseconds since the
epoch whatever their time-zone flag; everything else as text), then hashed, and the hashes are
summed. Floating and decimal values are rounded to :data:`DIGITS` places on TWO grids, the second
shifted by an odd fraction of a step: engines that add in different orders differ in the last
bits, which flips a rounding only for a value right at a grid boundary (2.1962234999999 against
2.1962235, common when data has a fixed number of decimals), and no value sits at a boundary of
both grids. A float column is equal when either grid's checksum matches. Used by the equivalence
tests and ``bench/bench_spark.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads

from lakehouse import storage
from lakehouse.config import DBT_SCHEMAS, DataPaths

#: Decimal places kept for floating and decimal values (sums of doubles differ in the last bits
#: between engines that add in different orders).
DIGITS = 6
#: Offsets of the two rounding grids: none, and an irrational-looking fraction of one step, so
#: values with a fixed number of decimals never sit at a boundary of the second grid.
SHIFTS = (0.0, 0.318309886 * 10**-DIGITS)


_INTEGERS = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
)


@dataclass(frozen=True)
class Fingerprint:
    """Row count and per-column checksums of one relation."""

    rows: int
    #: per column: one checksum, or one per rounding grid (:data:`SHIFTS`) for float columns
    columns: Mapping[str, tuple[int, ...]]


def _is_float(type_name: str) -> bool:
    t = type_name.upper()
    return t in {"FLOAT", "DOUBLE", "REAL"} or (t.startswith("DECIMAL") and not _is_integer(t))


def _is_integer(type_name: str) -> bool:
    t = type_name.upper()
    return t in _INTEGERS or (t.startswith("DECIMAL") and t.replace(" ", "").endswith(",0)"))


def _normalised(column: str, type_name: str, shift: float = 0.0) -> str:
    quoted = '"' + column.replace('"', '""') + '"'
    t = type_name.upper()
    if _is_integer(t):
        return f"cast({quoted} as hugeint)::varchar"
    if _is_float(t):
        # -0.0 and 0.0 are the same number; round() keeps the sign.
        return f"cast(round(cast({quoted} as double) + {shift}, {DIGITS}) + 0.0 as varchar)"
    if t.startswith("TIMESTAMP"):
        return f"cast(epoch_us({quoted}) as varchar)"
    if t == "BOOLEAN":
        return f"cast(cast({quoted} as integer) as varchar)"
    return f"cast({quoted} as varchar)"


def fingerprint(con: duckdb.DuckDBPyConnection, relation: str) -> Fingerprint:
    """The fingerprint of ``relation`` (a table name or a registered Arrow table) in ``con``."""
    described = con.execute(f"describe {relation}").fetchall()
    columns = [(row[0], row[1]) for row in described]
    grids = {c: (SHIFTS if _is_float(t) else SHIFTS[:1]) for c, t in columns}
    sums = ", ".join(
        f"coalesce(sum(hash(coalesce({_normalised(c, t, shift)}, '<null>')))::hugeint, 0)"
        for c, t in columns
        for shift in grids[c]
    )
    (row,) = con.execute(f"select count(*){', ' + sums if sums else ''} from {relation}").fetchall()
    values = iter(row[1:])
    return Fingerprint(int(row[0]), {c: tuple(int(next(values)) for _ in grids[c]) for c, _ in columns})


def arrow_fingerprint(table: pa.Table | pads.Dataset) -> Fingerprint:
    """:func:`fingerprint` of an Arrow table or dataset (a dataset is scanned batch by batch, e.g. a
    Delta table through :func:`lakehouse.storage.arrow_dataset`)."""
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
        if c in actual.columns
        and not any(a == b for a, b in zip(expected.columns[c], actual.columns[c], strict=False))
    ]
    return out


def dbt_relations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """``schema.name`` of every table and view dbt built in a build file, sorted."""
    listed = ", ".join(f"'{s}'" for s in DBT_SCHEMAS)
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        f"where table_schema in ({listed}) order by 1"
    ).fetchall()
    return [r[0] for r in rows]


def export_differences(con: duckdb.DuckDBPyConnection, exports: DataPaths) -> dict[str, list[str]]:
    """Every relation of the build file ``con`` against its Delta export under ``exports`` (the
    Spark engine's ``delta/<schema>/<model>``): relation -> what differs; empty when all are equal."""
    problems: dict[str, list[str]] = {}
    for relation in dbt_relations(con):
        schema, name = relation.split(".")
        path = exports.table(schema, name)
        if not storage.table_exists(path):
            problems[relation] = ["no Delta export"]
        elif diff := differences(
            fingerprint(con, f'"{schema}"."{name}"'), arrow_fingerprint(storage.arrow_dataset(path))
        ):
            problems[relation] = diff
    return problems
