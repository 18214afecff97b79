"""The one door to Delta tables: every read and write of the lakehouse goes through here.

Callers speak in engine-neutral terms (a path, a version, column names, filters as
``(column, op, value)`` tuples, Arrow tables) so that a Spark engine can later plug in behind
the same functions without touching landing, dbt sources or tests.
"""

from lakehouse.storage.delta import (
    DEFAULT_RETENTION_HOURS,
    Filter,
    StagedFile,
    active_files,
    arrow_dataset,
    commit_staged,
    compact,
    data_file,
    delete_where,
    discard_staged,
    drop_table,
    ensure_table,
    file_counts_by_partition,
    history,
    purge_log_history,
    read_frame,
    read_table,
    replace_table,
    scan_table,
    sql_literal,
    stage_files,
    table_exists,
    table_version,
    transaction_version,
    transaction_versions,
    vacuum,
    write_partitions,
)

# The Spark side (pyspark is imported inside its functions only, so importing the storage module
# stays as light as before for every DuckDB-engine process).
from lakehouse.storage.spark import UnsupportedDeltaProtocol, read_delta, write_delta

__all__ = [
    "DEFAULT_RETENTION_HOURS",
    "Filter",
    "StagedFile",
    "UnsupportedDeltaProtocol",
    "active_files",
    "arrow_dataset",
    "commit_staged",
    "compact",
    "data_file",
    "delete_where",
    "discard_staged",
    "drop_table",
    "ensure_table",
    "file_counts_by_partition",
    "history",
    "purge_log_history",
    "read_delta",
    "read_frame",
    "read_table",
    "replace_table",
    "scan_table",
    "sql_literal",
    "stage_files",
    "table_exists",
    "table_version",
    "transaction_version",
    "transaction_versions",
    "vacuum",
    "write_delta",
    "write_partitions",
]
