"""Delta tables on Spark without the Delta jars: read the active files, write by staging + one commit.

Why not ``spark.read.parquet(table_dir)``: a Delta folder holds every file any version ever had
(files replaced by compaction, overwrites and deletes stay until vacuum), so a directory read
returns dead rows. Here Spark reads exactly the files delta-rs lists as active for one version,
with the schema and partition values from the Delta log; writes stage Parquet written by the
executors, then the driver moves the files into the table and commits them ONCE through delta-rs,
so a failed job never leaves a partial version. Where the Delta jars can be had (production,
Databricks), real delta-spark can replace this module behind the same two functions.

Limits, on purpose: tables whose protocol needs a real Delta reader (deletion vectors, column
mapping, ...) are refused; the table must live on a filesystem the driver and the executors share
(a local path here; object storage needs delta-spark); file statistics carry row and null counts
(no min/max, so delta-rs cannot skip files of a Spark-written table by data-column ranges).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable
from deltalake import Schema as DeltaSchema
from deltalake.transaction import create_table_with_add_actions

from lakehouse.storage.delta import PathLike, StagedFile, add_action, data_file, table_exists

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import DataType, StructType

#: Reader features whose tables still read correctly from the active file list: they change how
#: the LOG is written or kept (delta-rs reads it for us) or allow a type Spark reads natively.
FILE_LIST_READER_FEATURES = frozenset({"timestampNtz", "v2Checkpoint", "vacuumProtocolCheck"})
#: Staged Parquet lives under the table root (same filesystem, so moving a file is a rename);
#: the leading underscore hides it from Delta readers and vacuum.
STAGING_DIR = "_beacon_staging"
#: Commit-info key that ties a commit to one write_delta call (to find its version, or to tell,
#: after an error, whether the commit landed).
WRITE_ID_KEY = "beacon.write_id"
#: Spark's folder name for a null partition value.
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_FILE_COL = "__beacon_file"
_HIT_COL = "__beacon_hit"


class UnsupportedDeltaProtocol(ValueError):
    """The table's protocol needs a real Delta reader/writer, which file-list access cannot honour."""


# ----------------------------------------------------------------------------------------- read


def check_file_list_protocol(table: DeltaTable, path: PathLike, action: str = "read") -> None:
    """Refuse a table whose files cannot be used as plain Parquet (names the table, the features and the fix).

    Column mapping stores columns under physical names and deletion vectors hide rows inside
    files: reading the listed files as Parquet would return wrong columns or deleted rows.
    """
    protocol = table.protocol()
    config = table.metadata().configuration or {}
    if protocol.min_reader_version == 1:
        return
    if protocol.min_reader_version == 2:
        features = {"columnMapping"}
    elif protocol.min_reader_version == 3:
        features = set(protocol.reader_features or [])
    else:
        features = {f"minReaderVersion={protocol.min_reader_version}"}
    if config.get("delta.columnMapping.mode", "none") == "none":
        features.discard("columnMapping")  # the feature is on but no column is renamed
    blocking = sorted(features - FILE_LIST_READER_FEATURES)
    if blocking:
        raise UnsupportedDeltaProtocol(
            f"cannot {action} Delta table {path} on Spark without the Delta jars: its protocol "
            f"(minReaderVersion={protocol.min_reader_version}) needs reader feature(s) {', '.join(blocking)}, "
            "which reading the active Parquet files cannot honour. Use delta-spark (the Delta jars) for "
            "this table, or rewrite it without them (e.g. delta-rs: read it and write a new table "
            "without delta.enableDeletionVectors / delta.columnMapping.mode)."
        )


def _spark_uri(local: str) -> str:
    """The URI handed to Spark: explicit ``file://`` so a cluster whose default FS is HDFS reads the same file."""
    return "file://" + local


def _decoded_file_path(column: Any) -> Any:
    """``_metadata.file_path`` (a URI, percent-encoded by Hadoop) as the plain local path.

    ``url_decode`` is form decoding (``+`` means space), so a literal ``+`` is protected first;
    Hadoop never encodes ``+`` in a path, so this is the exact inverse.
    """
    from pyspark.sql import functions as F

    decoded = F.url_decode(F.regexp_replace(column, r"\+", "%2B"))
    return F.regexp_replace(decoded, r"^file:(//)?", "")


#: Characters that make Hadoop treat a path as a glob pattern (``SparkHadoopUtil.isGlobPath``).
GLOB_CHARACTERS = frozenset("{}[]*?\\")


def _refuse_glob_characters(path: PathLike, files: Sequence[str]) -> None:
    """Spark globs every path that looks like a pattern (a table under ``/data/a*b`` would also
    read ``/data/aXb``), and its internal switch to turn globbing off repeats every listed file
    once per pattern-like path (pyspark 4.3, checked). Files inside a table never hold these
    characters (delta-rs and Spark escape them in partition folders), so only the table's own
    location can: refuse it with the fix."""
    bad = sorted({ch for f in files for ch in f if ch in GLOB_CHARACTERS})
    if bad:
        raise ValueError(
            f"cannot read Delta table {path} on Spark: its file paths contain {''.join(bad)!r}, which "
            "Spark treats as glob patterns; move the table (or $BEACON_DATA_DIR) to a path without them"
        )


@contextmanager
def _driver_side_listing(spark: SparkSession, files: int) -> Iterator[None]:
    """Stat the listed files on the driver instead of in a Spark job.

    Above ``parallelPartitionDiscovery.threshold`` (32 paths) Spark lists paths with a job of one
    task per path: 1,500 files took ~20 s on a 2-executor cluster against ~0.5 s on the driver,
    and our paths are files, not folders, so there is nothing to list in parallel. The setting
    only picks the strategy, never the result, so the brief change is safe for other threads.
    """
    key = "spark.sql.sources.parallelPartitionDiscovery.threshold"
    before = spark.conf.get(key)
    spark.conf.set(key, str(max(files + 1, int(before or 32))))
    try:
        yield
    finally:
        spark.conf.set(key, before)


def read_delta(
    spark: SparkSession,
    path: PathLike,
    version: int | None = None,
    columns: Sequence[str] | None = None,
) -> DataFrame:
    """The table at ``version`` (default latest) as a Spark DataFrame, read from its active files only.

    Partition values come from the log (typed as the Delta schema says) and are attached per
    file with a broadcast join on the file's path: one scan of all files, a plan whose size does
    not grow with the number of partitions, and a join table of one row per file. A row whose
    file is not in the join table raises instead of being dropped.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_type
    from pyspark.sql.types import BooleanType, StringType, StructField, StructType

    if not table_exists(path):
        raise FileNotFoundError(f"no Delta table at {path}: nothing to read on Spark")
    table = DeltaTable(str(path), version=version)
    check_file_list_protocol(table, path)
    arrow_schema = pa.schema(table.schema().to_arrow())
    spark_schema = from_arrow_schema(arrow_schema)
    names = spark_schema.names
    wanted = list(columns) if columns is not None else names
    unknown = [c for c in wanted if c not in names]
    if unknown:
        raise ValueError(f"columns {unknown} are not in Delta table {path} (columns: {names})")
    parts = list(table.metadata().partition_columns)
    fields = {f.name: f for f in spark_schema.fields}

    adds = pa.table(table.get_add_actions(flatten=True))
    if adds.num_rows == 0:
        return spark.createDataFrame([], StructType([fields[c] for c in wanted]))

    root = os.path.abspath(path)
    local = [data_file(root, p) for p in adds.column("path").to_pylist()]
    data_cols = [c for c in names if c not in parts]
    _refuse_glob_characters(path, local)
    reader = spark.read.schema(StructType([fields[c] for c in data_cols]))
    with _driver_side_listing(spark, len(local)):
        scan = reader.parquet(*[_spark_uri(p) for p in local])
    wanted_parts = [c for c in wanted if c in parts]
    if not wanted_parts:
        return scan.select(*wanted)

    # one row per active file: its path and typed partition values, straight from the log
    by_file = {_FILE_COL: pa.array(local, pa.string())}
    for c in wanted_parts:
        target = to_arrow_type(fields[c].dataType, timezone="UTC")
        by_file[c] = adds.column(f"partition.{c}").cast(target)
    by_file[_HIT_COL] = pa.array([True] * len(local), pa.bool_())
    file_schema = StructType(
        [StructField(_FILE_COL, StringType(), False)]
        + [StructField(c, fields[c].dataType, True) for c in wanted_parts]
        + [StructField(_HIT_COL, BooleanType(), False)]
    )
    partitions = spark.createDataFrame(pa.table(by_file), schema=file_schema)

    keep_data = [c for c in wanted if c in data_cols]
    rows = scan.select(*keep_data, _decoded_file_path(F.col("_metadata.file_path")).alias(_FILE_COL))
    joined = rows.join(F.broadcast(partitions), on=_FILE_COL, how="left")
    guard = F.when(
        F.col(_HIT_COL).isNull(),
        F.raise_error(F.concat(F.lit(f"file not in the Delta log of {path}: "), F.col(_FILE_COL))),
    )
    out = [
        F.coalesce(guard.cast(fields[c].dataType), F.col(c)).alias(c) if c == wanted_parts[0] else F.col(c)
        for c in wanted
    ]
    return joined.select(*out)


# ---------------------------------------------------------------------------------------- write


def _as_nullable(dtype: DataType) -> DataType:
    """Spark's file writers store every column as nullable; the Delta schema says the same so later
    appends from engines that do not track nullability are accepted."""
    from pyspark.sql.types import ArrayType, MapType, StructField, StructType

    if isinstance(dtype, StructType):
        return StructType([StructField(f.name, _as_nullable(f.dataType), True, f.metadata) for f in dtype])
    if isinstance(dtype, ArrayType):
        return ArrayType(_as_nullable(dtype.elementType), True)
    if isinstance(dtype, MapType):
        return MapType(dtype.keyType, _as_nullable(dtype.valueType), True)
    return dtype


def delta_schema_of(schema: StructType) -> pa.Schema:
    """The Arrow schema committed for a Spark schema: TIMESTAMP -> timestamp[us, tz=UTC] (as delta-rs
    and landing write it), TIMESTAMP_NTZ -> timestamp[us], strings as plain ``string``."""
    from pyspark.sql.pandas.types import to_arrow_schema

    nullable = _as_nullable(schema)
    return to_arrow_schema(nullable, timezone="UTC")  # type: ignore[arg-type]


def _strip_nullability(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: _strip_nullability(v)
            for k, v in node.items()
            if k not in ("nullable", "containsNull", "valueContainsNull", "metadata")
        }
    if isinstance(node, list):
        return [_strip_nullability(v) for v in node]
    return node


def _delta_types(schema: DeltaSchema) -> dict[str, Any]:
    return {f["name"]: _strip_nullability(f["type"]) for f in json.loads(schema.to_json())["fields"]}


def _check_target(
    table: DeltaTable, path: PathLike, schema: DeltaSchema, parts: list[str], mode: str
) -> None:
    """Refuse writes delta-rs would accept silently but wrongly (verified on delta-rs 1.6.6): an append
    whose schema differs keeps the old schema in the log, and a change of partition columns is ignored."""
    check_file_list_protocol(table, path, action="write")
    existing_parts = list(table.metadata().partition_columns)
    if existing_parts != parts:
        raise ValueError(
            f"Delta table {path} is partitioned by {existing_parts}, the write by {parts}: pass "
            f"partition_by={existing_parts} (changing partitioning needs a new table)"
        )
    if mode == "append":
        have, new = _delta_types(table.schema()), _delta_types(schema)
        if have != new:
            diff = sorted(k for k in set(have) | set(new) if have.get(k) != new.get(k))
            raise ValueError(
                f"append to Delta table {path}: schema differs in column(s) {diff} "
                f"(table: {[have.get(k) for k in diff]}, frame: {[new.get(k) for k in diff]}); "
                "cast the frame to the table's schema, or write with mode='overwrite' to replace it"
            )


def _check_session(spark: SparkSession) -> None:
    """Timestamps must land as INT64 microseconds and partition values in UTC, what every other
    reader (delta-rs, DuckDB, Arrow) expects: the Beacon session sets both."""
    ts_type = spark.conf.get("spark.sql.parquet.outputTimestampType", "INT96")
    tz = spark.conf.get("spark.sql.session.timeZone", "")
    if ts_type != "TIMESTAMP_MICROS" or tz not in ("UTC", "Etc/UTC", "Z", "+00:00"):
        raise ValueError(
            f"write_delta needs spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS and "
            f"spark.sql.session.timeZone=UTC (got {ts_type}, {tz!r}): start Spark with "
            "lakehouse.spark.session.beacon_spark_session"
        )


@contextmanager
def _job_group(spark: SparkSession, group: str, description: str) -> Iterator[None]:
    """Run this thread's jobs in ``group`` (restoring the caller's group afterwards), so a failure
    can wait for the group's killed tasks before deleting the staging folder."""
    sc = spark.sparkContext
    keys = ("spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel")
    before = {k: sc.getLocalProperty(k) for k in keys}
    sc.setJobGroup(group, description, interruptOnCancel=True)
    try:
        yield
    finally:
        for k, v in before.items():
            sc.setLocalProperty(k, v)  # type: ignore[arg-type]  # None unsets


def _wait_for_group(spark: SparkSession, group: str, timeout_s: float = 30.0) -> None:
    """Cancel ``group`` and wait until none of its tasks runs (a killed task could still write a file)."""
    sc = spark.sparkContext
    sc.cancelJobGroup(group)
    tracker = sc.statusTracker()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        running = 0
        for job_id in tracker.getJobIdsForGroup(group):
            job = tracker.getJobInfo(job_id)
            for stage_id in job.stageIds if job else []:
                stage = tracker.getStageInfo(stage_id)
                running += stage.numActiveTasks if stage else 0
        if running == 0:
            return
        time.sleep(0.2)


def _unescape(text: str) -> str:
    """Spark's ``unescapePathName``: it escapes only ASCII characters, as ``%XX``."""
    return re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), text)


def _staged_parquet(staging: Path, parts: list[str]) -> list[tuple[str, dict[str, str | None]]]:
    """The Parquet files Spark committed into ``staging`` (relative path, partition values).

    Spark's job commit leaves only finished task outputs; its ``_SUCCESS`` marker and the
    checksum side files (``.*.crc``) are not data.
    """
    found: list[tuple[str, dict[str, str | None]]] = []
    for folder, dirs, files in os.walk(staging):
        dirs[:] = [d for d in dirs if not d.startswith(("_", "."))]
        for name in files:
            if name.startswith(("_", ".")) or not name.endswith(".parquet"):
                continue
            rel = os.path.relpath(os.path.join(folder, name), staging)
            segments = rel.split(os.sep)[:-1]
            if len(segments) != len(parts):
                raise RuntimeError(f"unexpected staged file {rel} for partition columns {parts}")
            values: dict[str, str | None] = {}
            for column, segment in zip(parts, segments, strict=True):
                key, _, raw = segment.partition("=")
                if _unescape(key) != column:
                    raise RuntimeError(
                        f"staged file {rel}: folder {segment!r} is not partition column {column!r}"
                    )
                values[column] = None if raw == HIVE_NULL else _unescape(raw)
            found.append((rel.replace(os.sep, "/"), values))
    return found


def _footer_stats(file: Path) -> tuple[int, dict[str, int]]:
    """Row count and per-column null counts from the Parquet footer (the data pages are never read).

    A column is left out of the null counts when any row group lacks the statistic: Delta stats
    are optional per column, a wrong one would make readers skip files.
    """
    meta = pq.read_metadata(file)
    top_level = set(meta.schema.to_arrow_schema().names)
    counts: dict[str, int] = {}
    missing: set[str] = set()
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        for j in range(group.num_columns):
            chunk = group.column(j)
            name = chunk.path_in_schema
            if name not in top_level:
                continue
            stats = chunk.statistics
            if stats is None or not stats.has_null_count:
                missing.add(name)
                continue
            counts[name] = counts.get(name, 0) + stats.null_count
    return meta.num_rows, {k: v for k, v in counts.items() if k not in missing}


def _stage_descriptions(staging: Path, parts: list[str]) -> list[StagedFile]:
    """Staged files with their relative path, size and footer stats; empty files are dropped."""
    listed = _staged_parquet(staging, parts)
    with ThreadPoolExecutor(max_workers=8) as pool:
        stats = list(pool.map(lambda item: _footer_stats(staging / item[0]), listed))
    described: list[StagedFile] = []
    for (rel, values), (rows, nulls) in zip(listed, stats, strict=True):
        file = staging / rel
        if rows == 0:
            file.unlink()
            continue
        st = file.stat()
        described.append(StagedFile(rel, st.st_size, values, rows, nulls, st.st_mtime_ns // 1_000_000))
    return described


def _committed_version(path: PathLike, write_id: str) -> int | None:
    """The version whose commit info carries ``write_id``, if that commit landed."""
    if not table_exists(path):
        return None
    for entry in DeltaTable(str(path)).history(100):
        if entry.get(WRITE_ID_KEY) == write_id:
            return int(entry["version"])
    return None


def write_delta(
    df: DataFrame,
    path: PathLike,
    partition_by: Sequence[str] | None = None,
    mode: str = "append",
    commit_metadata: Mapping[str, str] | None = None,
) -> int:
    """Write ``df`` to the Delta table at ``path`` in ONE delta-rs commit; return the new version.

    The executors write Parquet to ``<table>/_beacon_staging/<write id>``; the driver reads the
    footers (row and null counts), moves the files to Hive-style partition folders under the
    table and commits their add actions. ``mode="overwrite"`` replaces the whole table in that
    same commit (delta-rs removes every active file and takes the new schema); ``"append"``
    requires the table's schema. A missing table is created by the commit. Anything failing
    before the commit leaves the table's version and folder as they were.
    """
    if mode not in ("append", "overwrite"):
        raise ValueError(f"mode must be 'append' or 'overwrite', got {mode!r}")
    spark = df.sparkSession
    _check_session(spark)
    parts = list(partition_by or [])
    missing = [c for c in parts if c not in df.columns]
    if missing:
        raise ValueError(f"partition columns {missing} are not in the frame (columns: {df.columns})")
    root = Path(os.path.abspath(path))
    schema = DeltaSchema.from_arrow(delta_schema_of(df.schema))
    existed = table_exists(root)
    if existed:
        _check_target(DeltaTable(str(root)), path, schema, parts, mode)

    write_id = uuid.uuid4().hex
    created_root = not root.exists()
    staging = root / STAGING_DIR / write_id
    moved: list[Path] = []
    done = False
    try:
        with _job_group(spark, f"beacon-write-{write_id}", f"write_delta {root}"):
            try:
                df.write.mode("error").partitionBy(*parts).option("compression", "snappy").parquet(
                    str(staging)
                )
            except Exception:
                _wait_for_group(spark, f"beacon-write-{write_id}")
                raise
        staged = _stage_descriptions(staging, parts)
        for f in staged:
            target = root / f.path
            if target.exists():
                raise FileExistsError(f"{target} already exists: refusing to replace a table file")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / f.path, target)
            moved.append(target)
        props = CommitProperties(custom_metadata={**dict(commit_metadata or {}), WRITE_ID_KEY: write_id})
        adds = [add_action(f) for f in staged]
        try:
            if existed:
                DeltaTable(str(root)).create_write_transaction(
                    adds, mode, schema, partition_by=parts or None, commit_properties=props
                )
            else:
                create_table_with_add_actions(
                    str(root), schema, adds, mode="error", partition_by=parts or None, commit_properties=props
                )
        except Exception:
            landed = _committed_version(root, write_id)
            if landed is None:
                raise
            done = True  # the commit is durable; what failed came after it (e.g. a checkpoint)
            return landed
        done = True
        version = _committed_version(root, write_id)
        if version is None:
            raise RuntimeError(f"commit {write_id} to {root} not found in the table history")
        return version
    finally:
        if not done:
            for target in moved:
                target.unlink(missing_ok=True)
            _prune_empty_dirs(root, [t.parent for t in moved])
        shutil.rmtree(staging, ignore_errors=True)
        _remove_if_empty(root / STAGING_DIR)
        if created_root and not done:
            _remove_if_empty(root)


def _remove_if_empty(folder: Path) -> None:
    with suppress(OSError):
        folder.rmdir()


def _prune_empty_dirs(root: Path, folders: Sequence[Path]) -> None:
    """Remove partition folders this write created and left empty (deepest first, never ``root``)."""
    for folder in sorted(set(folders), key=lambda p: len(p.parts), reverse=True):
        current = folder
        while current != root and root in current.parents:
            try:
                current.rmdir()
            except OSError:
                break
            current = current.parent
