"""Keep bronze tables fast to read: bounded files per partition, old files vacuumed.

Every landing batch adds at least one file to each partition it touches, so a partition that
receives late events every day would otherwise collect files forever. Compaction rewrites only
the partitions over the limit (a partition filter each, never the whole table); vacuum then
deletes files that no version within the retention period needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lakehouse import storage
from lakehouse.config import DataPaths
from lakehouse.landing.schemas import (
    KEY_INDEX_TABLES,
    LEDGER_TABLE,
    PARTITION_COLUMN,
    QUARANTINE_PARTITION,
    QUARANTINE_TABLE,
    TABLES,
)

DEFAULT_MAX_FILES_PER_PARTITION = 8
#: partition column of each bronze table (None: unpartitioned)
PARTITIONED_BY: dict[str, str | None] = {
    **{name: PARTITION_COLUMN for _, name in TABLES.values()},
    QUARANTINE_TABLE: QUARANTINE_PARTITION,
    LEDGER_TABLE: None,
    **dict.fromkeys(KEY_INDEX_TABLES.values()),  # key indexes: unpartitioned, one file per chunk landed
}


@dataclass
class MaintenanceResult:
    """What compaction and vacuum did to one table."""

    table: str
    partitions_compacted: list[str] = field(default_factory=list)
    files_before: int = 0
    files_after: int = 0
    max_files_per_partition_after: int = 0
    vacuumed_files: int = 0
    version: int | None = None


def maintain_table(
    paths: DataPaths,
    name: str,
    max_files_per_partition: int = DEFAULT_MAX_FILES_PER_PARTITION,
    retention_hours: int | None = None,
    target_size: int | None = None,
) -> MaintenanceResult:
    """Compact the partitions of ``name`` holding more than ``max_files_per_partition`` files, then vacuum."""
    path = paths.table("bronze", name)
    result = MaintenanceResult(name)
    if not storage.table_exists(path):
        return result
    column = PARTITIONED_BY[name]
    counts = storage.file_counts_by_partition(path)
    result.files_before = sum(counts.values())
    for values, n in sorted(counts.items(), key=lambda kv: str(kv[0])):
        if n <= max_files_per_partition:
            continue
        filters: list[Any] = [(column, "=", values[0])] if column else []
        storage.compact(path, partition_filters=filters, target_size=target_size)
        result.partitions_compacted.append(str(values[0]) if column else "(table)")
    after = storage.file_counts_by_partition(path)
    result.files_after = sum(after.values())
    result.max_files_per_partition_after = max(after.values(), default=0)
    result.vacuumed_files = len(storage.vacuum(path, retention_hours=retention_hours))
    result.version = storage.table_version(path)
    return result


def maintain_bronze(
    paths: DataPaths,
    max_files_per_partition: int = DEFAULT_MAX_FILES_PER_PARTITION,
    retention_hours: int | None = None,
) -> list[MaintenanceResult]:
    """Compaction and vacuum of every bronze table (data, quarantine, ledger, key indexes)."""
    return [maintain_table(paths, name, max_files_per_partition, retention_hours) for name in PARTITIONED_BY]
