"""The storage module on real Delta tables: reads with filters, partition writes, compaction, vacuum."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from landing_files import event, write_jsonl

from lakehouse import storage
from lakehouse.config import paths
from lakehouse.landing import land
from lakehouse.landing.maintenance import maintain_table


def _frame(day: str, ids: range) -> pl.DataFrame:
    return pl.DataFrame(
        {"id": [f"k{i}" for i in ids], "v": list(ids), "d": [dt.date.fromisoformat(day)] * len(ids)}
    )


def test_write_read_filter_history_and_transactions(tmp_path: Path) -> None:
    t = tmp_path / "t"
    assert storage.table_version(t) is None and not storage.table_exists(t)
    v0 = storage.write_partitions(
        t, _frame("2026-01-01", range(3)), ["d"], commit_metadata={"who": "test"}, transactions=["app-1"]
    )
    v1 = storage.write_partitions(t, _frame("2026-01-02", range(3, 5)), ["d"])
    assert (v0, v1) == (0, 1) and storage.table_version(t) == 1
    assert storage.transaction_version(t, "app-1") == 1 and storage.transaction_version(t, "other") is None
    one_day = storage.read_table(t, columns=["id"], filters=[("d", "=", dt.date(2026, 1, 2))])
    assert sorted(one_day.column("id").to_pylist()) == ["k3", "k4"]
    assert storage.read_table(t, version=0).num_rows == 3
    assert storage.read_table(t, filters=[("v", "in", [1, 4]), ("v", ">", 1)]).num_rows == 1
    assert (
        storage.scan_table(t, filters=[("d", "=", dt.date(2026, 1, 1))]).select(pl.len()).collect().item()
        == 3
    )
    assert storage.history(t)[-1]["who"] == "test"
    files = storage.active_files(t)
    assert files.num_rows == 2 and "partition.d" in files.column_names
    with pytest.raises(ValueError, match="unknown operator"):
        storage.read_table(t, filters=[("v", "~", 1)])
    with pytest.raises(FileNotFoundError, match="land some data first"):
        storage.read_table(tmp_path / "missing")


def _physical_types(t: Path, column: str) -> set[str]:
    return {
        str(pq.read_schema(storage.data_file(t, rel)).field(column).type)
        for rel in storage.active_files(t)["path"].to_pylist()
    }


def test_a_delete_leaves_files_every_reader_can_filter(tmp_path: Path) -> None:
    """delta-rs's delete rewrites files with string_view columns, which pyarrow filters (and so DuckDB
    reading Delta through dbt's plugin) cannot compare: Beacon rewrites them with plain types."""
    t = tmp_path / "t"
    storage.write_partitions(t, _frame("2026-01-01", range(4)), ["d"])
    storage.write_partitions(t, _frame("2026-01-02", range(4, 8)), ["d"])
    before = storage.table_version(t)
    metrics = storage.delete_where(t, "id IN ('k1', 'k5')", {"why": "erasure"})
    assert metrics["num_deleted_rows"] == 2
    assert storage.table_version(t) == before + 2  # the delete, then the rewrite with plain types
    assert not any("view" in ty for ty in _physical_types(t, "id"))
    kept = storage.read_table(t, filters=[("id", "in", ["k0", "k1", "k5", "k6"])])
    assert sorted(kept["id"].to_pylist()) == ["k0", "k6"]
    assert sorted(storage.read_table(t)["v"].to_pylist()) == [0, 2, 3, 4, 6, 7]
    assert storage.history(t)[0]["why"] == "erasure"

    plain = tmp_path / "ledger"  # unpartitioned tables too (the landing ledger)
    storage.replace_table(plain, _frame("2026-01-01", range(3)))
    storage.delete_where(plain, "v = 1")
    assert storage.read_table(plain, filters=[("id", "=", "k2")]).num_rows == 1
    assert not any("view" in ty for ty in _physical_types(plain, "id"))


def test_partition_values_that_need_escaping(tmp_path: Path) -> None:
    """The log names files by URI-encoded paths (``p=a%20b``): every file it lists is found on disk,
    and a delete in such a partition (which rereads the files it rewrote) works."""
    t = tmp_path / "t"
    odd = ["a b", "100%", "x=y/z", "plain"]
    frame = pl.DataFrame({"id": [f"k{i}" for i in range(8)], "v": list(range(8)), "p": odd * 2})
    storage.write_partitions(t, frame, ["p"])
    rels = storage.active_files(t)["path"].to_pylist()
    assert any("%" in rel for rel in rels)
    assert all(Path(storage.data_file(t, rel)).is_file() for rel in rels)
    assert not any((t / rel).exists() for rel in rels if "%" in rel)  # joined as-is, they name nothing
    storage.delete_where(t, "p = '100%' AND v = 1")
    assert not any("view" in ty for ty in _physical_types(t, "id"))
    assert sorted(storage.read_table(t, filters=[("p", "=", "100%")])["v"].to_pylist()) == [5]
    assert storage.read_table(t).num_rows == 7


def test_compaction_repairs_view_typed_files_written_before(tmp_path: Path) -> None:
    """Tables that went through delta-rs's own delete earlier are repaired by the next compaction."""
    t = tmp_path / "t"
    storage.write_partitions(t, _frame("2026-01-01", range(4)), ["d"])
    storage.write_partitions(t, _frame("2026-01-02", range(4, 8)), ["d"])
    DeltaTable(str(t)).delete("id = 'k1'")  # what delete_where did before the fix
    assert "string_view" in _physical_types(t, "id")
    with pytest.raises(pa.ArrowNotImplementedError, match="string_view"):
        storage.read_table(t, filters=[("id", "=", "k0")])
    assert storage.compact(t)["viewTypedFilesRewritten"] == 1
    assert storage.read_table(t, filters=[("id", "=", "k0")]).num_rows == 1
    assert storage.read_table(t).num_rows == 7
    assert storage.compact(t)["viewTypedFilesRewritten"] == 0  # idempotent


def test_drop_table_removes_every_version_and_refuses_a_plain_folder(tmp_path: Path) -> None:
    t = tmp_path / "export"
    storage.write_partitions(t, _frame("2026-01-01", range(3)), ["d"])
    storage.write_partitions(t, _frame("2026-01-02", range(3, 5)), ["d"])
    on_disk = sum(1 for f in t.rglob("*") if f.is_file())
    assert storage.drop_table(t) == on_disk >= 4  # two data files + two commits
    assert not t.exists() and storage.table_version(t) is None
    plain = tmp_path / "not-a-table"
    plain.mkdir()
    (plain / "keep.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="nothing to drop"):
        storage.drop_table(plain)
    assert (plain / "keep.txt").exists()


def test_replace_where_and_delete_where_touch_only_their_partition(tmp_path: Path) -> None:
    t = tmp_path / "t"
    storage.write_partitions(t, _frame("2026-01-01", range(3)), ["d"])
    storage.write_partitions(t, _frame("2026-01-02", range(3, 6)), ["d"])
    storage.write_partitions(
        t, _frame("2026-01-02", range(10, 12)), ["d"], mode="overwrite", replace_where="d = '2026-01-02'"
    )
    frame = pl.from_arrow(storage.read_table(t)).sort("v")
    assert frame["v"].to_list() == [0, 1, 2, 10, 11]
    storage.delete_where(t, "d = '2026-01-01' AND v = 1")
    assert sorted(storage.read_table(t).column("v").to_pylist()) == [0, 2, 10, 11]
    with pytest.raises(ValueError, match="replace_where"):
        storage.write_partitions(t, _frame("2026-01-03", range(1)), ["d"], mode="overwrite")


def test_compaction_bounds_files_per_partition_and_vacuum_removes_old_files(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    # ten deliveries of events for the same event date: ten small files in one partition
    for n in range(10):
        day = f"2026-01-{5 + n:02d}"
        write_jsonl(
            landing / f"clickstream/{day}/events-{day}-000.jsonl.gz",
            [
                event(
                    n * 100 + i, occurred_at="2026-01-05T10:00:00+00:00", received_at="2026-01-05T10:00:01Z"
                )
                for i in range(20)
            ],
        )
        land(paths(data_dir), hmac_key, day)
    t = paths(data_dir).table("bronze", "clickstream_events")
    assert storage.file_counts_by_partition(t) == {(dt.date(2026, 1, 5),): 10}
    before = storage.read_table(t).num_rows
    result = maintain_table(
        paths(data_dir), "clickstream_events", max_files_per_partition=4, retention_hours=0
    )
    assert result.partitions_compacted == ["2026-01-05"]
    assert result.files_before == 10 and result.files_after == 1 and result.max_files_per_partition_after == 1
    assert result.vacuumed_files == 10
    assert storage.read_table(t).num_rows == before == 200
    assert len(list((t / "event_date=2026-01-05").glob("*.parquet"))) == 1
    # below the limit nothing is rewritten; a long retention keeps files
    again = maintain_table(paths(data_dir), "clickstream_events", max_files_per_partition=4)
    assert again.partitions_compacted == [] and again.vacuumed_files == 0


def test_staged_files_are_invisible_until_one_commit(tmp_path: Path) -> None:
    """Staging writes Parquet under the table but no version; one commit then adds every staged
    file with its metadata and transaction ids; discarded files simply disappear."""
    t = tmp_path / "t"
    storage.write_partitions(t, _frame("2026-01-01", range(2)), ["d"])
    schema = storage.read_table(t).schema
    first = storage.stage_files(t, _frame("2026-01-02", range(2, 5)), ["d"])
    second = storage.stage_files(
        t, pl.concat([_frame("2026-01-02", range(5, 6)), _frame("2026-01-03", range(6, 8))]), ["d"]
    )
    dropped = storage.stage_files(t, _frame("2026-01-04", range(8, 9)), ["d"])
    assert [f.num_records for f in [*first, *second]] == [3, 1, 2]
    assert all((t / f.path).is_file() for f in [*first, *second, *dropped])
    assert storage.table_version(t) == 0 and storage.read_table(t).num_rows == 2  # nothing visible yet
    storage.discard_staged(t, dropped)
    assert not (t / dropped[0].path).exists()
    v = storage.commit_staged(
        t, [*first, *second], schema, ["d"], commit_metadata={"who": "stage"}, transactions=["app-s"]
    )
    assert v == 1 and storage.transaction_version(t, "app-s") == 1
    assert storage.transaction_versions(t, ["app-s", "nope"]) == {"app-s": 1, "nope": None}
    rows = pl.from_arrow(storage.read_table(t)).sort("v")
    assert rows["id"].to_list() == [f"k{i}" for i in range(8)]
    assert rows["d"].cast(pl.String).to_list() == ["2026-01-01"] * 2 + ["2026-01-02"] * 4 + ["2026-01-03"] * 2
    assert storage.history(t, 1)[0]["who"] == "stage"
    files = storage.active_files(t)
    assert sorted(files.column("num_records").to_pylist()) == [1, 2, 2, 3]
