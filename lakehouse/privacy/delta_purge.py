"""Delete rows from a Delta table so that NO file of the table still holds them.

A Delta ``DELETE`` only writes new data files and a commit; the old files stay for time travel,
and the commit log keeps more than one copy of what was deleted:

* the removed files themselves (until vacuum deletes them);
* the ``add`` actions of earlier commits, whose per-file column statistics (``minValues`` /
  ``maxValues``) hold real values of the data, e.g. the smallest ``user_id`` in the file;
* the ``DELETE`` commit's ``operationParameters.predicate``, which names what was deleted;
* any earlier checkpoint (a Parquet copy of all add actions, statistics included).

So :func:`purge_rows` deletes (with a partition term, so only the touched partitions are
rewritten), vacuums with zero retention (every file not in the latest version goes), then
rewrites the log: a checkpoint at the latest version, and every log file before it removed
(``cleanup_metadata`` with the log retention set to zero for that one call, restored after).
After it, the table has no history before the purge: that is the point of erasure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakehouse import storage


@dataclass(frozen=True)
class PurgeResult:
    """What one purge did to one table."""

    table: str
    rows_deleted: int
    files_vacuumed: int
    log_files_removed: int
    version: int | None


def in_list(column: str, values: Iterable[Any]) -> str | None:
    """``column IN (...)`` for non-empty ``values`` (sorted, so predicates are reproducible)."""
    vals = sorted(set(values), key=str)
    if not vals:
        return None
    return f"{column} IN ({', '.join(storage.sql_literal(v) for v in vals)})"


def any_of(terms: Iterable[str | None]) -> str | None:
    """OR of the non-empty terms, each parenthesised (None when there is none)."""
    kept = [f"({t})" for t in terms if t]
    return " OR ".join(kept) if kept else None


def lineage_terms(file_column: str, line_column: str, lines: Mapping[str, Sequence[int]]) -> list[str]:
    """One ``file = f AND line IN (...)`` term per file: rows that came from the given source lines."""
    terms = []
    for rel, nums in sorted(lines.items()):
        listed = in_list(line_column, nums)
        if listed:
            terms.append(f"{file_column} = {storage.sql_literal(rel)} AND {listed}")
    return terms


def purge_rows(
    path: Path,
    predicate: str | None,
    partition_column: str | None = None,
    partitions: Iterable[Any] = (),
    commit_metadata: Mapping[str, str] | None = None,
    always_purge_history: bool = False,
) -> PurgeResult:
    """Delete the rows matching ``predicate`` (in ``partitions`` only, when given), then vacuum
    with zero retention and purge the log history.

    ``predicate`` is a delta-rs SQL predicate; the partition term is ANDed in front of it so a
    delete touches only the partitions that hold the rows. With nothing to delete the table is
    left alone (idempotent re-runs cost one scan), unless ``always_purge_history``.
    """
    name = path.name
    if not storage.table_exists(path):
        return PurgeResult(name, 0, 0, 0, None)
    parts = sorted({str(p) for p in partitions})
    deleted = 0
    if predicate and (partition_column is None or parts):
        full = predicate
        if partition_column is not None:
            full = f"{in_list(partition_column, parts)} AND ({predicate})"
        metrics = storage.delete_where(path, full, commit_metadata=commit_metadata)
        deleted = int(metrics.get("num_deleted_rows") or 0)
    if not deleted and not always_purge_history:
        return PurgeResult(name, 0, 0, 0, storage.table_version(path))
    vacuumed = storage.vacuum(path, retention_hours=0, full=True)
    removed = storage.purge_log_history(path)
    return PurgeResult(name, deleted, len(vacuumed), removed, storage.table_version(path))
