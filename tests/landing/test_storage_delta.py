"""The storage module on real Delta tables: reads with filters, partition writes, compaction, vacuum."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
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
