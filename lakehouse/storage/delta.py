"""Delta Lake through delta-rs: reads, partition-scoped writes, compaction, vacuum, deletes.

Why a wrapper: delta-rs and Spark disagree on options, filter syntax and what they return. Keeping
every call here means the rest of Beacon (landing, dbt sources, erasure, tests) depends only on
these signatures, and a Spark engine can implement the same functions later.

Filters are engine-neutral DNF-free conjunctions: a list of ``(column, op, value)`` tuples with
``op`` in ``= != < <= > >= in not in``, ANDed together.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.transaction import AddAction

#: Files older than this (hours) that no table version still needs are deleted by :func:`vacuum`.
#: A week leaves time travel for a week of debugging; override with $BEACON_VACUUM_RETENTION_HOURS.
DEFAULT_RETENTION_HOURS = int(os.environ.get("BEACON_VACUUM_RETENTION_HOURS", "168"))

Filter = tuple[str, str, Any]
PathLike = str | os.PathLike[str]

_OPS = {"=", "==", "!=", "<", "<=", ">", ">=", "in", "not in"}


def table_exists(path: PathLike) -> bool:
    """Whether a Delta table (a ``_delta_log`` with at least one commit) lives at ``path``."""
    return DeltaTable.is_deltatable(str(path))


def table_version(path: PathLike) -> int | None:
    """The latest committed version of the table, or None when there is no table yet."""
    if not table_exists(path):
        return None
    return DeltaTable(str(path)).version()


def ensure_table(path: PathLike, schema: pa.Schema, partition_by: Sequence[str] | None = None) -> int:
    """Create an empty table with ``schema`` unless one exists; return its version.

    Readers (dbt sources, dashboards) can then rely on every table existing with its schema
    even before the first row arrives (e.g. an empty quarantine).
    """
    if not table_exists(path):
        Path(path).mkdir(parents=True, exist_ok=True)
        DeltaTable.create(
            str(path), schema, mode="ignore", partition_by=list(partition_by) if partition_by else None
        )
    return DeltaTable(str(path)).version()


def _table(path: PathLike, version: int | None = None) -> DeltaTable:
    if not table_exists(path):
        raise FileNotFoundError(
            f"no Delta table at {path}: land some data first (the bronze assets create the tables)"
        )
    return DeltaTable(str(path), version=version)


def _expression(filters: Sequence[Filter]) -> pc.Expression | None:
    expr: pc.Expression | None = None
    for column, op, value in filters:
        if op not in _OPS:
            raise ValueError(f"filter on {column!r}: unknown operator {op!r}; use one of {sorted(_OPS)}")
        field = pc.field(column)
        if op in ("in", "not in"):
            values = list(value)
            term = field.isin(values) if op == "in" else ~field.isin(values)
        elif op in ("=", "=="):
            term = field == value
        elif op == "!=":
            term = field != value
        elif op == "<":
            term = field < value
        elif op == "<=":
            term = field <= value
        elif op == ">":
            term = field > value
        else:
            term = field >= value
        expr = term if expr is None else expr & term
    return expr


def _dataset(path: PathLike, version: int | None) -> pads.Dataset:
    return _table(path, version).to_pyarrow_dataset()


def arrow_dataset(path: PathLike, version: int | None = None) -> pads.Dataset:
    """The table at ``version`` as a lazy Arrow dataset over its active files only.

    For consumers that stream (DuckDB scans it batch by batch, e.g. the Spark engine's mirror into
    the build file), so memory stays bounded by a batch rather than the table.
    """
    return _dataset(path, version)


def read_table(
    path: PathLike,
    version: int | None = None,
    columns: Sequence[str] | None = None,
    filters: Sequence[Filter] | None = None,
) -> pa.Table:
    """Read (part of) a table at ``version`` (default latest) as Arrow.

    Filters on partition columns prune whole partitions before any file is opened, which is
    what keeps de-duplication against existing rows proportional to the partitions touched.
    """
    ds = _dataset(path, version)
    expr = _expression(filters or [])
    return ds.to_table(columns=list(columns) if columns is not None else None, filter=expr)


def read_frame(path: PathLike, schema: Mapping[str, pl.DataType] | None = None) -> pl.DataFrame:
    """A small table as a polars frame; empty with ``schema`` when the table does not exist yet
    (ledgers, audit and budget tables that the first run creates)."""
    if not table_exists(path):
        if schema is None:
            raise FileNotFoundError(f"no Delta table at {path}")
        return pl.DataFrame(schema=schema)
    frame = pl.from_arrow(read_table(path))
    assert isinstance(frame, pl.DataFrame)
    return frame


def scan_table(
    path: PathLike,
    version: int | None = None,
    filters: Sequence[Filter] | None = None,
) -> pl.LazyFrame:
    """A lazy polars scan of the table (projection and filters are pushed into the Arrow dataset)."""
    ds = _dataset(path, version)
    lf = pl.scan_pyarrow_dataset(ds)
    expr = _expression(filters or [])
    if expr is not None:
        ds = ds.filter(expr)
        lf = pl.scan_pyarrow_dataset(ds)
    return lf


def active_files(path: PathLike, version: int | None = None) -> pa.Table:
    """The data files of ``version``: path (relative to the table), size, rows and partition values."""
    table = pa.table(_table(path, version).get_add_actions(flatten=True))
    keep = [
        c
        for c in table.column_names
        if c in ("path", "size_bytes", "num_records") or c.startswith("partition.")
    ]
    return table.select(keep)


def data_file(table: PathLike, log_path: str) -> str:
    """Absolute local path of a data file named by the Delta log (and by :func:`active_files`).

    Relative paths in the log are URI-encoded (the protocol's rule: delta-rs records the folder
    ``p=a b`` as ``p=a%20b``), so joining them to the table folder unchanged names a file that does
    not exist as soon as a partition value needs escaping. ``file:`` URIs are decoded the same way;
    any other scheme is refused, Beacon's own paths being local or a shared filesystem.
    """
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", log_path)
    if scheme is None:
        return os.path.join(os.path.abspath(table), unquote(log_path))
    if scheme.group(1).lower() != "file":
        raise ValueError(f"file {log_path} of Delta table {table} is not on a local filesystem")
    return unquote(re.sub(r"^//[^/]*", "", log_path[len(scheme.group(0)) :]))


def file_counts_by_partition(path: PathLike, version: int | None = None) -> dict[tuple[Any, ...], int]:
    """Number of active data files per partition (the tuple of partition values)."""
    files = pl.from_arrow(active_files(path, version))
    assert isinstance(files, pl.DataFrame)
    part_cols = [c for c in files.columns if c.startswith("partition.")]
    if files.height == 0:
        return {}
    if not part_cols:
        return {(): files.height}
    counts = files.group_by(part_cols).len()
    return {tuple(row[:-1]): int(row[-1]) for row in counts.iter_rows()}


def write_partitions(
    path: PathLike,
    data: pa.Table | pl.DataFrame,
    partition_by: Sequence[str] | None = None,
    *,
    mode: str = "append",
    replace_where: str | None = None,
    commit_metadata: Mapping[str, str] | None = None,
    transactions: Sequence[str] | None = None,
    target_file_size: int | None = None,
) -> int:
    """Append ``data`` (or, with ``replace_where``, replace exactly the rows it matches) in one commit.

    ``commit_metadata`` goes into the commit's info (visible in :func:`history`), and each of
    ``transactions`` is recorded as an application transaction id so a retry can ask
    :func:`transaction_version` whether this write already committed. Returns the new version.
    """
    table = data.to_arrow() if isinstance(data, pl.DataFrame) else data
    if mode not in ("append", "overwrite"):
        raise ValueError(f"mode must be 'append' or 'overwrite', got {mode!r}")
    if mode == "overwrite" and replace_where is None:
        raise ValueError(
            "overwrite needs replace_where (a predicate on partition columns): whole-table "
            "overwrites are not done through write_partitions"
        )
    props = CommitProperties(
        custom_metadata=dict(commit_metadata or {}),
        app_transactions=[Transaction(app_id=t, version=1) for t in transactions or []] or None,
    )
    Path(path).mkdir(parents=True, exist_ok=True)
    write_deltalake(
        str(path),
        table,
        partition_by=list(partition_by) if partition_by else None,
        mode=mode,  # type: ignore[arg-type]
        predicate=replace_where,
        commit_properties=props,
        target_file_size=target_file_size,
    )
    return DeltaTable(str(path)).version()


def replace_table(path: PathLike, data: pa.Table | pl.DataFrame) -> int:
    """Replace a SMALL unpartitioned table's whole content in one commit (e.g. a snapshot of a
    user-maintained table); partitioned tables go through :func:`write_partitions`. Returns the
    new version; earlier versions keep their files until :func:`vacuum`."""
    table = data.to_arrow() if isinstance(data, pl.DataFrame) else data
    Path(path).mkdir(parents=True, exist_ok=True)
    write_deltalake(str(path), table, mode="overwrite", schema_mode="overwrite")
    return DeltaTable(str(path)).version()


def drop_table(path: PathLike) -> int:
    """Remove a Delta table whole (log, every version's files); return how many files went.

    For derived copies that are cheaper to rebuild than to rewrite (e.g. the Spark engine's
    exports when a person is erased): unlike :func:`delete_where` + :func:`vacuum`, nothing of
    any earlier version survives for time travel. Refuses a path that holds no Delta table so a
    typo cannot remove an arbitrary folder.
    """
    if not table_exists(path):
        raise FileNotFoundError(f"no Delta table at {path}: nothing to drop (check the path)")
    root = Path(path)
    files = sum(1 for f in root.rglob("*") if f.is_file())
    shutil.rmtree(root)
    return files


@dataclass(frozen=True)
class StagedFile:
    """A Parquet file written under a table's folder but not yet part of any version."""

    path: str  # relative to the table root, as the Delta log records it
    size: int
    partition_values: dict[str, str | None]
    num_records: int
    null_counts: dict[str, int]
    modification_time: int


def _partition_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def stage_files(
    path: PathLike, data: pa.Table | pl.DataFrame, partition_by: Sequence[str] | None = None
) -> list[StagedFile]:
    """Write ``data`` as Parquet files under the table's folder (one per partition) WITHOUT committing.

    Why: a long landing run stages its rows chunk by chunk (memory stays bounded by the chunk)
    and then makes all of them visible in ONE commit (:func:`commit_staged`). Until that commit,
    no reader sees the files; a writer killed before it leaves files the log never references,
    which :func:`vacuum` (full) deletes after the retention. Partition columns are not stored
    in the files (the Delta convention: their values live in the log).
    """
    frame = pl.from_arrow(data) if isinstance(data, pa.Table) else data
    assert isinstance(frame, pl.DataFrame)
    if frame.height == 0:
        return []
    parts = list(partition_by or [])
    groups = frame.partition_by(parts, as_dict=True, maintain_order=True) if parts else {(): frame}
    staged: list[StagedFile] = []
    for values, group in groups.items():
        values_text = {c: _partition_text(v) for c, v in zip(parts, values, strict=True)}
        folder = "/".join(
            f"{c}={'__HIVE_DEFAULT_PARTITION__' if v is None else v}" for c, v in values_text.items()
        )
        rel = (f"{folder}/" if folder else "") + f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
        target = Path(path) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        body = group.drop(parts)
        body.write_parquet(target, compression="snappy", statistics=True, row_group_size=256_000)
        st = target.stat()
        staged.append(
            StagedFile(
                rel,
                st.st_size,
                values_text,
                body.height,
                dict(zip(body.columns, body.null_count().row(0), strict=True)),
                st.st_mtime_ns // 1_000_000,
            )
        )
    return staged


def add_action(f: StagedFile) -> AddAction:
    """The Delta ``add`` action of a staged file (row count and null counts as its statistics).

    delta-rs takes the plain relative path and URI-encodes it into the log itself (verified on
    1.6.6: an already encoded path would be encoded twice).
    """
    return AddAction(
        f.path,
        f.size,
        f.partition_values,
        f.modification_time,
        True,
        json.dumps({"numRecords": f.num_records, "nullCount": f.null_counts}),
    )


def commit_staged(
    path: PathLike,
    staged: Sequence[StagedFile],
    schema: pa.Schema,
    partition_by: Sequence[str] | None = None,
    *,
    commit_metadata: Mapping[str, str] | None = None,
    transactions: Sequence[str] | None = None,
) -> int:
    """Append the ``staged`` files to the table in ONE commit (with metadata and transaction ids)."""
    actions = [add_action(f) for f in staged]
    props = CommitProperties(
        custom_metadata=dict(commit_metadata or {}),
        app_transactions=[Transaction(app_id=t, version=1) for t in transactions or []] or None,
    )
    _table(path).create_write_transaction(
        actions,
        "append",
        schema,
        partition_by=list(partition_by) if partition_by else None,
        commit_properties=props,
    )
    return DeltaTable(str(path)).version()


def discard_staged(path: PathLike, staged: Sequence[StagedFile]) -> None:
    """Delete staged files that will not be committed (e.g. the rows of a file that failed mid-way)."""
    for f in staged:
        (Path(path) / f.path).unlink(missing_ok=True)


def transaction_version(path: PathLike, app_id: str) -> int | None:
    """The version recorded for an application transaction id, or None if never committed."""
    if not table_exists(path):
        return None
    return DeltaTable(str(path)).transaction_version(app_id)


def transaction_versions(path: PathLike, app_ids: Sequence[str]) -> dict[str, int | None]:
    """:func:`transaction_version` of many ids with one table load (a run asks for every file)."""
    if not table_exists(path):
        return dict.fromkeys(app_ids)
    table = DeltaTable(str(path))
    return {a: table.transaction_version(a) for a in app_ids}


def history(path: PathLike, limit: int | None = None) -> list[dict[str, Any]]:
    """Commit infos, newest first, including any custom commit metadata written with the data."""
    if not table_exists(path):
        return []
    return DeltaTable(str(path)).history(limit)


def compact(
    path: PathLike,
    partition_filters: Sequence[Filter] | None = None,
    target_size: int | None = None,
) -> dict[str, Any]:
    """Rewrite the small files of the filtered partitions into larger ones (bin-packing).

    Rows do not change, only their files, so readers at any version keep working; the old
    files stay until :func:`vacuum` removes them after the retention period.
    """
    filters = [(c, op, _partition_literal(v)) for c, op, v in partition_filters or []]
    metrics = _table(path).optimize.compact(partition_filters=filters or None, target_size=target_size)
    metrics["viewTypedFilesRewritten"] = normalise_view_types(path, {"beacon.operation": "compact"})
    return metrics


def _partition_literal(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_partition_literal(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def vacuum(
    path: PathLike, retention_hours: int | None = None, dry_run: bool = False, full: bool = True
) -> list[str]:
    """Delete files no version within ``retention_hours`` needs (default :data:`DEFAULT_RETENTION_HOURS`).

    ``full`` also deletes files the log never referenced (left by a writer killed before its
    commit) once they are older than the retention, so a running writer's files are safe.
    """
    hours = DEFAULT_RETENTION_HOURS if retention_hours is None else retention_hours
    return _table(path).vacuum(
        retention_hours=hours, dry_run=dry_run, enforce_retention_duration=False, full=full
    )


def delete_where(
    path: PathLike, predicate: str, commit_metadata: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Delete the rows matching a SQL ``predicate`` (e.g. erasure); always pass a partition term when you can.

    delta-rs rewrites the files that held matching rows with Arrow *view* types (``string_view``),
    which pyarrow's dataset filters cannot compare (DuckDB's pushed-down filters through dbt's
    ``delta`` plugin then fail on the next build); the rewritten partitions are therefore written
    again with the table's plain types right after (:func:`normalise_view_types`).
    """
    props = CommitProperties(custom_metadata=dict(commit_metadata or {}))
    before = set(active_files(path)["path"].to_pylist())
    metrics = _table(path).delete(predicate, commit_properties=props)
    rewritten = set(active_files(path)["path"].to_pylist()) - before
    if rewritten:  # only the delete's own files can be view-typed: no footer of the rest is read
        normalise_view_types(path, commit_metadata, candidates=rewritten)
    return metrics


def sql_literal(value: Any) -> str:
    """A SQL literal for a delta-rs (DataFusion) predicate: strings quoted (quotes doubled), ints as is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


#: The Arrow view layouts delta-rs writes, and the plain type each is rewritten as.
_PLAIN_OF_VIEW = {pa.string_view(): pa.string(), pa.binary_view(): pa.binary()}


def _has_view_type(schema: pa.Schema) -> bool:
    """Whether any column is a string or binary view (the layouts delta-rs's delete writes)."""
    return any(field.type in _PLAIN_OF_VIEW for field in schema)


def _view_typed_files(path: PathLike, files: pa.Table, candidates: set[str] | None) -> pl.DataFrame:
    """The rows of ``files`` (:func:`active_files`) whose Parquet footer declares a view type
    (only ``candidates`` are looked at when given)."""
    frame = pl.from_arrow(files)
    assert isinstance(frame, pl.DataFrame)
    if candidates is not None:
        frame = frame.filter(pl.col("path").is_in(sorted(candidates)))
    flags = [_has_view_type(pq.read_schema(data_file(path, rel))) for rel in frame["path"].to_list()]
    return frame.filter(pl.Series(flags, dtype=pl.Boolean))


def _plain_batches(
    path: PathLike, files: pl.DataFrame, schema: pa.Schema, partition_cols: Sequence[str]
) -> Iterator[pa.RecordBatch]:
    """Every row of ``files``, batch by batch, cast to ``schema`` with the partition values added."""
    for row in files.iter_rows(named=True):  # one iteration per FILE; rows stay in Arrow batches
        parquet = pq.ParquetFile(data_file(path, row["path"]))
        for batch in parquet.iter_batches(batch_size=64_000):
            columns = []
            for field in schema:
                if field.name in partition_cols:
                    value = row[f"partition.{field.name}"]
                    column = pa.nulls(batch.num_rows, field.type)
                    columns.append(
                        column if value is None else column.fill_null(pa.scalar(value, field.type))
                    )
                else:
                    columns.append(batch.column(field.name).cast(field.type))
            yield pa.RecordBatch.from_arrays(columns, schema=schema)


def normalise_view_types(
    path: PathLike, commit_metadata: Mapping[str, str] | None = None, candidates: set[str] | None = None
) -> int:
    """Rewrite the partitions holding view-typed files with the table's plain types; return files fixed.

    One overwrite commit per call, scoped to those partitions (the whole table when it is not
    partitioned), streamed file by file so memory stays at one batch. Rows do not change. Called
    after every delete, and by :func:`compact` so tables written before this fix are repaired by
    the next compaction.
    """
    table = _table(path)
    files = active_files(path)
    bad = _view_typed_files(path, files, candidates)
    if bad.height == 0:
        return 0
    partition_cols = list(table.metadata().partition_columns)
    schema = pa.schema(
        [
            pa.field(f.name, _PLAIN_OF_VIEW.get(f.type, f.type), f.nullable)
            for f in _dataset(path, None).schema
        ]
    )
    frame = pl.from_arrow(files)
    assert isinstance(frame, pl.DataFrame)
    predicate = None
    if partition_cols:
        keys = bad.select([f"partition.{c}" for c in partition_cols]).unique()
        frame = frame.join(keys, on=keys.columns, how="semi", nulls_equal=True)
        predicate = " OR ".join(
            "("
            + " AND ".join(
                f"{c} IS NULL" if v is None else f"{c} = {sql_literal(_partition_text(v))}"
                for c, v in zip(partition_cols, values, strict=True)
            )
            + ")"
            for values in keys.iter_rows()
        )
    reader = pa.RecordBatchReader.from_batches(schema, _plain_batches(path, frame, schema, partition_cols))
    props = CommitProperties(
        custom_metadata={**dict(commit_metadata or {}), "beacon.operation": "normalise view types"}
    )
    write_deltalake(
        str(path),
        reader,
        mode="overwrite",
        partition_by=partition_cols or None,
        predicate=predicate,
        commit_properties=props,
    )
    return bad.height


LOG_RETENTION_KEY = "delta.logRetentionDuration"
#: Delta's default log retention (restored after a log purge when the table had none set).
DEFAULT_LOG_RETENTION = "interval 30 days"


def _log_files(table: PathLike) -> set[str]:
    log = Path(table) / "_delta_log"
    return {p.name for p in log.iterdir()} if log.is_dir() else set()


def purge_log_history(path: PathLike) -> int:
    """Checkpoint the latest version and delete every log file before it; returns files removed.

    The log retention is lowered to zero only for the cleanup and restored right after, so the
    table's normal history keeping (landing's crash recovery reads recent commits) is unchanged
    for future commits.
    """
    table = DeltaTable(str(path))
    before = _log_files(path)
    previous = table.metadata().configuration.get(LOG_RETENTION_KEY)
    table.alter.set_table_properties({LOG_RETENTION_KEY: "interval 0 seconds"})
    table = DeltaTable(str(path))
    table.create_checkpoint()
    table.cleanup_metadata()
    # Older checkpoints (and their sidecars/CRCs) before the new one are expired log files too;
    # delta-rs removes them in cleanup, anything left before the checkpoint is removed here.
    version = table.version()
    log = Path(path) / "_delta_log"
    for name in sorted(_log_files(path)):
        stem = name.split(".", 1)[0]
        if stem.isdigit() and int(stem) < version:
            os.remove(log / name)
    DeltaTable(str(path)).alter.set_table_properties({LOG_RETENTION_KEY: previous or DEFAULT_LOG_RETENTION})
    return len(before - _log_files(path))
