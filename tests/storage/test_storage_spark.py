"""Spark reads and writes Delta through the storage module, checked against delta-rs and DuckDB.

One ``local-cluster`` session (two executor JVMs) serves the whole module: starting one costs
~15 s. The table history is real (appends, compaction, a replace_where overwrite, a delete), so a
directory read would see dead files and the active-file read must not.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from lakehouse import storage
from lakehouse.config import paths
from lakehouse.contracts import SENSORS
from lakehouse.landing.schemas import arrow_schema, bronze_schema, cast_to
from lakehouse.storage.spark import STAGING_DIR, UnsupportedDeltaProtocol, read_delta, write_delta

pytestmark = pytest.mark.spark

UTC = dt.UTC
DAYS = [dt.date(2026, 1, 1), dt.date(2026, 1, 2), dt.date(2026, 1, 3)]
# awkward partition values: Hive escaping, URI encoding and Spark's url_decode must all round-trip
ODD = ["x y:z/%[1]+é", "plain", "a=b&c?#"]


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if shutil.which("java") is None:
        pytest.skip("the Spark engine needs a Java runtime")
    from lakehouse.spark.session import beacon_spark_session

    session = beacon_spark_session(paths(tmp_path_factory.mktemp("spark-data")), "local-cluster[2,1,1024]")
    yield session
    session.stop()


def _batch(ids: range, day: dt.date) -> pl.DataFrame:
    """Rows with every type the bronze tables use; timestamps carry odd microseconds."""
    n = len(ids)
    base = dt.datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    return pl.DataFrame(
        {
            "id": [f"e{i:05d}" for i in ids],
            "v": list(ids),
            "q": pl.Series([i % 7 for i in ids], dtype=pl.Int32),
            "amount": [i / 3 if i % 5 else None for i in ids],
            "flag": [i % 2 == 0 for i in ids],
            "ts": pl.Series([base + dt.timedelta(seconds=i, microseconds=i * 7 + 1) for i in ids]).cast(
                pl.Datetime("us", "UTC")
            ),
            "event_date": [day] * n,
        }
    )


@pytest.fixture(scope="module")
def history_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v0 two partitions; v1, v2 appends; v3 compaction; v4 replace_where of one day; v5 a delete
    (v6: its rewritten files again with plain types, see storage.delete_where)."""
    t = tmp_path_factory.mktemp("delta") / "events"
    storage.write_partitions(
        t, pl.concat([_batch(range(0, 100), DAYS[0]), _batch(range(100, 200), DAYS[1])]), ["event_date"]
    )
    storage.write_partitions(
        t, pl.concat([_batch(range(200, 250), DAYS[0]), _batch(range(250, 300), DAYS[2])]), ["event_date"]
    )
    storage.write_partitions(t, _batch(range(300, 350), DAYS[1]), ["event_date"])
    storage.compact(t)
    storage.write_partitions(
        t,
        _batch(range(1000, 1020), DAYS[2]),
        ["event_date"],
        mode="overwrite",
        replace_where="event_date = '2026-01-03'",
    )
    storage.delete_where(t, "event_date = '2026-01-01' AND v < 40")
    assert storage.table_version(t) == 6
    return t


def _sorted(table: pa.Table, columns: list[str]) -> list[dict[str, Any]]:
    return table.select(columns).sort_by([(columns[0], "ascending")]).to_pylist()


def _all_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_read_delta_equals_delta_rs_at_latest_and_old_versions(spark: Any, history_table: Path) -> None:
    t = history_table
    cols = ["id", "v", "q", "amount", "flag", "ts", "event_date"]
    for version in (2, None):  # before compaction, overwrite and delete; then the latest
        expected = storage.read_table(t, version=version)
        got = read_delta(spark, t, version).toArrow()
        assert got.num_rows == expected.num_rows > 0
        assert _sorted(got, cols) == _sorted(expected, cols)
    latest = read_delta(spark, t)
    types = {f.name: f.dataType.simpleString() for f in latest.schema.fields}
    assert types == {
        "id": "string",
        "v": "bigint",
        "q": "int",
        "amount": "double",
        "flag": "boolean",
        "ts": "timestamp",
        "event_date": "date",
    }
    live = 100 - 40 + 50 + 150 + 20
    assert got.num_rows == live

    # a directory read (what Spark does without the Delta jars) sees every file ever written
    on_disk = sum(pq.read_metadata(t / f).num_rows for f in _all_files(t) if f.endswith(".parquet"))
    directory = spark.read.parquet(str(t)).count()
    assert directory == on_disk and directory > 2 * live

    # column selection: data only, partition only (typed from the log), a partition column first
    assert read_delta(spark, t, columns=["v"]).columns == ["v"]
    only_days = pl.from_arrow(read_delta(spark, t, columns=["event_date"]).toArrow())
    assert only_days.schema == pl.Schema({"event_date": pl.Date()})
    by_day = dict(only_days.group_by("event_date").len().iter_rows())
    assert by_day == {DAYS[0]: 110, DAYS[1]: 150, DAYS[2]: 20}
    mixed = read_delta(spark, t, 1, columns=["event_date", "id"]).toArrow()
    assert mixed.column_names == ["event_date", "id"]
    assert _sorted(mixed, ["id", "event_date"]) == _sorted(storage.read_table(t, 1), ["id", "event_date"])
    with pytest.raises(ValueError, match="not in Delta table"):
        read_delta(spark, t, columns=["nope"])


def test_partition_values_with_awkward_characters_and_empty_table(spark: Any, tmp_path: Path) -> None:
    t = tmp_path / "odd table+"  # the root's characters must survive Hadoop's URI round trip too
    frame = pl.DataFrame({"k": [ODD[i % 3] if i % 4 else None for i in range(30)], "n": list(range(30))})
    storage.write_partitions(t, frame, ["k"])
    got = read_delta(spark, t).toArrow()
    assert _sorted(got, ["n", "k"]) == _sorted(storage.read_table(t), ["n", "k"])
    assert sorted(set(got.column("k").to_pylist()), key=str) == sorted([*ODD, None], key=str)

    empty = tmp_path / "empty"
    storage.ensure_table(empty, arrow_schema(bronze_schema(SENSORS)), ["event_date"])
    frame_empty = read_delta(spark, empty)
    assert frame_empty.count() == 0
    assert frame_empty.columns == list(bronze_schema(SENSORS).names())
    assert frame_empty.schema["occurred_at"].dataType.simpleString() == "timestamp"
    assert frame_empty.schema["event_date"].dataType.simpleString() == "date"
    with pytest.raises(FileNotFoundError):
        read_delta(spark, tmp_path / "missing")
    globby = tmp_path / "a*b"  # Spark would read it as a pattern (and a sibling 'aXb' with it)
    storage.write_partitions(globby, frame, ["k"])
    with pytest.raises(ValueError, match=r"glob patterns"):
        read_delta(spark, globby)


@pytest.mark.parametrize(
    ("config", "feature"),
    [
        ({"delta.enableDeletionVectors": "true"}, "deletionVectors"),
        ({"delta.columnMapping.mode": "name"}, "columnMapping"),
    ],
)
def test_tables_needing_a_real_delta_reader_are_refused(
    spark: Any, tmp_path: Path, config: dict[str, str], feature: str
) -> None:
    t = tmp_path / "t"
    DeltaTable.create(str(t), pa.schema([("a", pa.int64())]), configuration=config)
    with pytest.raises(UnsupportedDeltaProtocol, match=rf"read Delta table {t}.*{feature}.*delta-spark"):
        read_delta(spark, t)
    frame = spark.createDataFrame([(1,)], "a bigint")
    with pytest.raises(UnsupportedDeltaProtocol, match=rf"write Delta table {t}.*{feature}"):
        write_delta(frame, t)
    assert storage.table_version(t) == 0


def test_write_delta_round_trips_through_delta_rs_and_duckdb(
    spark: Any, history_table: Path, tmp_path: Path
) -> None:
    source = read_delta(spark, history_table)
    expected = storage.read_table(history_table)
    cols = list(expected.column_names)
    t = tmp_path / "copy"
    assert write_delta(source, t, ["event_date"], commit_metadata={"who": "spark-test"}) == 0
    assert pa.schema(DeltaTable(str(t)).schema().to_arrow()) == pa.schema(
        DeltaTable(str(history_table)).schema().to_arrow()
    )
    assert _sorted(storage.read_table(t), cols) == _sorted(expected, cols)
    assert storage.history(t)[0]["who"] == "spark-test"
    files = storage.active_files(t)
    assert sorted(set(files.column("partition.event_date").to_pylist())) == DAYS
    assert all(p.startswith("event_date=2026-01-0") for p in files.column("path").to_pylist())
    assert files.column("num_records").to_pylist() == [
        pq.read_metadata(t / p).num_rows for p in files.column("path").to_pylist()
    ]
    a_file = t / files.column("path")[0].as_py()
    assert pq.read_schema(a_file).field("ts").type == pa.timestamp("us", tz="UTC")
    stats = DeltaTable(str(t)).get_add_actions(flatten=True)
    nulls = pa.table(stats).column("null_count.amount").to_pylist()
    assert sum(nulls) == expected.column("amount").null_count > 0

    # DuckDB sees the same instants, to the microsecond, as UTC timestamps
    arrow = storage.read_table(t)  # noqa: F841 - read by DuckDB below
    con = duckdb.connect()
    got_ts = con.sql("select id, ts, typeof(ts) as t from arrow order by id").fetchall()
    want = sorted(zip(expected.column("id").to_pylist(), expected.column("ts").to_pylist(), strict=True))
    assert [(i, ts) for i, ts, _ in got_ts] == want
    assert {t_ for _, _, t_ in got_ts} == {"TIMESTAMP WITH TIME ZONE"}
    assert any(ts.microsecond % 1000 for _, ts in want)

    # append: one more commit, rows add up; then overwrite: one commit, only the new rows remain
    more = spark.createDataFrame(cast_like(_batch(range(5000, 5010), DAYS[1]), expected.schema))
    assert write_delta(more, t, ["event_date"]) == 1
    assert storage.read_table(t).num_rows == expected.num_rows + 10
    assert write_delta(more, t, ["event_date"], mode="overwrite") == 2
    assert _sorted(storage.read_table(t), cols) == _sorted(
        cast_like(_batch(range(5000, 5010), DAYS[1]), expected.schema), cols
    )
    log = [json.loads(line) for line in (t / "_delta_log" / f"{2:020d}.json").read_text().splitlines()]
    removed = {a["remove"]["path"] for a in log if "remove" in a}
    assert removed == set(storage.active_files(t, 1).column("path").to_pylist())
    assert not removed & set(storage.active_files(t).column("path").to_pylist())
    assert read_delta(spark, t, 1).count() == expected.num_rows + 10  # time travel still reads the old files

    # partitioning must match, and an append must match the schema (delta-rs would accept both silently)
    with pytest.raises(ValueError, match="partitioned by"):
        write_delta(more, t, None)
    with pytest.raises(ValueError, match=r"schema differs in column\(s\) \['extra'\]"):
        write_delta(more.withColumn("extra", more["v"] * 2), t, ["event_date"])
    assert storage.table_version(t) == 2


def cast_like(frame: pl.DataFrame, schema: pa.Schema) -> pa.Table:
    return frame.to_arrow().select(schema.names).cast(schema)


def test_write_delta_appends_to_a_bronze_table_and_overwrites_schema(spark: Any, tmp_path: Path) -> None:
    """A table created by delta-rs with the landing's bronze schema accepts Spark appends as is."""
    bronze = tmp_path / "sensor_readings"
    schema = bronze_schema(SENSORS)
    storage.ensure_table(bronze, arrow_schema(schema), ["event_date"])
    start = dt.datetime(2026, 1, 1, 23, 59, 59, 999_999, tzinfo=UTC)
    rows = pl.DataFrame(
        {
            "reading_id": [f"r{i}" for i in range(6)],
            "occurred_at": [start + dt.timedelta(microseconds=i) for i in range(6)],
            "event_date": [(start + dt.timedelta(microseconds=i)).date() for i in range(6)],
            "value": [float(i) for i in range(6)],
            "_landed_at": [start] * 6,
        }
    )
    full = rows.with_columns(
        [pl.lit(None, dtype=d).alias(c) for c, d in schema.items() if c not in rows.columns]
    )
    data = cast_to(full, schema)
    assert write_delta(spark.createDataFrame(data), bronze, ["event_date"]) == 1
    back = storage.read_table(bronze)
    assert back.schema.field("occurred_at").type == pa.timestamp("us", tz="UTC")
    assert _sorted(back, ["reading_id", "occurred_at", "event_date", "value"]) == _sorted(
        data, ["reading_id", "occurred_at", "event_date", "value"]
    )
    assert sorted(storage.file_counts_by_partition(bronze)) == [
        (dt.date(2026, 1, 1),),
        (dt.date(2026, 1, 2),),
    ]

    # a whole-table overwrite (the marts export) may change the schema; partition values with odd characters
    mart = tmp_path / "mart"
    first = spark.createDataFrame([(1, "a"), (2, "b")], "n int, s string")
    assert write_delta(first, mart, mode="overwrite") == 0
    second = spark.createDataFrame(
        [(3, 0.5, ODD[0]), (4, None, ODD[2]), (5, 1.5, None)], "n int, x double, k string"
    )
    with pytest.raises(ValueError, match="partitioned by"):
        write_delta(second, mart, ["k"], mode="overwrite")
    assert write_delta(second, mart, mode="overwrite") == 1
    assert storage.read_table(mart).sort_by("n").to_pylist() == [
        {"n": 3, "x": 0.5, "k": ODD[0]},
        {"n": 4, "x": None, "k": ODD[2]},
        {"n": 5, "x": 1.5, "k": None},
    ]
    odd = tmp_path / "odd_parts"
    assert write_delta(second, odd, ["k"]) == 0
    assert _sorted(storage.read_table(odd), ["n", "k"]) == _sorted(
        read_delta(spark, odd).toArrow(), ["n", "k"]
    )
    assert sorted(storage.active_files(odd).column("partition.k").to_pylist(), key=str) == sorted(
        [ODD[0], ODD[2], None], key=str
    )
    empty = spark.createDataFrame([], "n int, s string")
    assert write_delta(empty, mart, mode="overwrite") == 2
    assert storage.read_table(mart).num_rows == 0 and storage.active_files(mart).num_rows == 0


def test_a_failing_job_leaves_version_and_folder_unchanged(spark: Any, tmp_path: Path) -> None:
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType

    t = tmp_path / "target"
    source = _batch(range(1000, 1010), DAYS[0])
    storage.write_partitions(t, source, ["event_date"])
    before_files, before_version = _all_files(t), storage.table_version(t)

    @F.udf(returnType=LongType())
    def explode_on_one_row(v: int) -> int:
        if v == 1005:
            raise RuntimeError("bad row")
        return v

    frame = spark.createDataFrame(pl.concat([source, _batch(range(10), DAYS[1])]).to_arrow())
    failing = frame.withColumn("v", explode_on_one_row("v"))
    with pytest.raises(Exception, match="bad row"):
        write_delta(failing, t, ["event_date"])
    assert storage.table_version(t) == before_version
    assert _all_files(t) == before_files and not (t / STAGING_DIR).exists()

    # a task failure before a new table's first commit leaves no folder at all
    fresh = tmp_path / "never_created"
    with pytest.raises(Exception, match="bad row"):
        write_delta(failing.coalesce(1), fresh, ["event_date"])
    assert not fresh.exists()

    # a commit that fails after the files were moved in (another writer created the table while
    # the job ran) takes the moved files back out: only the other writer's empty table remains
    raced = tmp_path / "raced"
    target = str(raced)

    @F.udf(returnType=LongType())
    def create_table_meanwhile(v: int) -> int:
        import pyarrow as pa
        from deltalake import DeltaTable

        if not DeltaTable.is_deltatable(target):
            DeltaTable.create(target, pa.schema([("v", pa.int64())]), mode="ignore")
        return v

    with pytest.raises(Exception, match="already exists"):
        write_delta(frame.coalesce(1).withColumn("v", create_table_meanwhile("v")), raced, ["event_date"])
    assert storage.table_version(raced) == 0 and storage.active_files(raced).num_rows == 0
    assert {f.split("/")[0] for f in _all_files(raced)} == {"_delta_log"}
