"""Arrow schemas of the bronze tables: contract columns typed, then lineage.

One definition so every writer (landing now, a Spark engine later) and every reader agrees on
column order and types; ``cast_to`` refuses a frame that does not fit instead of letting Delta
evolve the schema by accident.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from lakehouse.contracts import CLICKSTREAM, OFFSET_COLUMN, SENSORS, Contract

PARTITION_COLUMN = "event_date"
QUARANTINE_PARTITION = "landing_date"
LINEAGE: dict[str, pl.DataType] = {
    "_source_file": pl.String(),
    "_source_line": pl.Int64(),
    "_landed_at": pl.Datetime("us", "UTC"),
    "_landing_run_id": pl.String(),
}

#: contract name used in mappings and file discovery -> (contract, bronze table name)
TABLES: dict[str, tuple[Contract, str]] = {
    "clickstream": (CLICKSTREAM, "clickstream_events"),
    "sensors": (SENSORS, "sensor_readings"),
}
QUARANTINE_TABLE = "quarantine"
LEDGER_TABLE = "_landing_log"
#: bronze table -> its key index (key -> event_date of every landed row), used for de-duplication
KEY_INDEX_TABLES: dict[str, str] = {name: f"_{name}_keys" for _, name in TABLES.values()}

#: identifier columns pseudonymised at landing, per contract
IDENTIFIERS: dict[str, tuple[str, ...]] = {
    "clickstream": ("user_id", "anonymous_id"),
    "sensors": ("home_id", "user_id"),
}
ALL_IDENTIFIER_KEYS: tuple[str, ...] = ("user_id", "anonymous_id", "home_id")


def key_index_schema(contract: Contract) -> pl.Schema:
    """The key index of a bronze table: one row per landed record, its key and event date.

    De-duplication looks a batch's keys up here instead of in the data partitions, so an event
    re-delivered with another event date (a client clock resend) is still found, while reading
    one narrow column instead of whole partitions.
    """
    return pl.Schema({contract.key: pl.String(), PARTITION_COLUMN: pl.Date()})


def bronze_schema(contract: Contract) -> pl.Schema:
    """Contract fields, the sender's UTC offset, the event date partition, then lineage."""
    cols: dict[str, pl.DataType] = {f.name: f.dtype for f in contract.fields}
    cols[OFFSET_COLUMN] = pl.Int32()
    cols[PARTITION_COLUMN] = pl.Date()
    cols.update(LINEAGE)
    return pl.Schema(cols)


QUARANTINE_SCHEMA = pl.Schema(
    {
        "source": pl.String(),
        "source_file": pl.String(),
        "source_line": pl.Int64(),
        "reason": pl.String(),
        "raw_payload": pl.String(),
        "quarantined_at": pl.Datetime("us", "UTC"),
        "landing_run_id": pl.String(),
        QUARANTINE_PARTITION: pl.Date(),
    }
)

LEDGER_SCHEMA = pl.Schema(
    {
        "source": pl.String(),
        "contract": pl.String(),
        "source_file": pl.String(),
        "content_sha256": pl.String(),
        "bytes": pl.Int64(),
        "mtime_ns": pl.Int64(),
        "delivery_date": pl.Date(),
        "status": pl.String(),  # landed | duplicate_file
        "lines_read": pl.Int64(),
        "rows_landed": pl.Int64(),
        "rows_quarantined": pl.Int64(),
        "duplicates": pl.Int64(),
        "skipped": pl.Int64(),
        "table_name": pl.String(),
        "table_version": pl.Int64(),
        "quarantine_version": pl.Int64(),
        "landing_run_id": pl.String(),
        "landed_at": pl.Datetime("us", "UTC"),
    }
)


def cast_frame(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """Select ``schema``'s columns in order with its types (strict: a value that does not fit fails)."""
    missing = [c for c in schema.names() if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing} of the bronze schema; this is a landing bug")
    return frame.select([pl.col(c).cast(t, strict=True) for c, t in schema.items()])


def arrow_schema(schema: pl.Schema) -> pa.Schema:
    """The Arrow schema a Delta table of ``schema`` is created and committed with."""
    return cast_to(pl.DataFrame(schema=schema), schema).schema


def cast_to(frame: pl.DataFrame, schema: pl.Schema) -> pa.Table:
    """Select ``schema``'s columns in order with its types, as Arrow (string columns as large_string
    are normalised to plain strings so every write has the same Delta schema)."""
    table = cast_frame(frame, schema).to_arrow()
    fields = [
        pa.field(
            f.name,
            pa.string() if pa.types.is_large_string(f.type) or pa.types.is_string_view(f.type) else f.type,
        )
        for f in table.schema
    ]
    return table.cast(pa.schema(fields))
