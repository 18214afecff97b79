"""The one door to Delta tables: every read and write of the lakehouse goes through here.

Callers speak in engine-neutral terms (a path, a version, column names, filters as
``(column, op, value)`` tuples, Arrow tables) so that a Spark engine can later plug in behind
the same functions without touching landing, dbt sources or tests.
"""

from lakehouse.storage.delta import (
    DEFAULT_RETENTION_HOURS,
    Filter,
    active_files,
    compact,
    delete_where,
    ensure_table,
    file_counts_by_partition,
    history,
    read_table,
    scan_table,
    table_exists,
    table_version,
    transaction_version,
    vacuum,
    write_partitions,
)

__all__ = [
    "DEFAULT_RETENTION_HOURS",
    "Filter",
    "active_files",
    "compact",
    "delete_where",
    "ensure_table",
    "file_counts_by_partition",
    "history",
    "read_table",
    "scan_table",
    "table_exists",
    "table_version",
    "transaction_version",
    "vacuum",
    "write_partitions",
]
