"""Exactly once: the same file twice, renamed copies, re-runs, duplicates across days and late events."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import polars as pl
from helpers_landing import table
from landing_files import event, write_jsonl

from lakehouse import storage
from lakehouse.config import paths
from lakehouse.landing import land


def _events(data_dir: Path) -> pl.DataFrame:
    return table(data_dir, "clickstream_events")


def test_same_file_twice_and_rerun_change_nothing(landing: Path, data_dir: Path, hmac_key: str) -> None:
    f = write_jsonl(
        landing / "clickstream/2026-01-05/events-2026-01-05-000.jsonl.gz",
        [event(i) for i in range(50)] + ["bad line"],
    )
    first = land(paths(data_dir), hmac_key, "2026-01-05")
    versions = dict(first.versions)
    # re-run of the partition, and of everything
    again = land(paths(data_dir), hmac_key, "2026-01-05")
    land(paths(data_dir), hmac_key)
    assert again.totals()["files"] == 0
    assert {k: storage.table_version(paths(data_dir).table("bronze", k)) for k in versions} == versions
    # the file touched (new mtime) but same content: hashed again, recognised, landed zero times
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    touched = land(paths(data_dir), hmac_key, "2026-01-05")
    assert touched.totals()["duplicate_files"] == 1 and touched.totals()["rows_landed"] == 0
    e = _events(data_dir)
    assert e.height == 50 and e["event_id"].n_unique() == 50
    assert table(data_dir, "quarantine").height == 1
    assert (
        storage.table_version(paths(data_dir).table("bronze", "clickstream_events"))
        == versions["clickstream_events"]
    )


def test_same_content_under_another_name_and_day_lands_once(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    src = write_jsonl(
        landing / "clickstream/2026-01-05/events-2026-01-05-000.jsonl.gz",
        [event(i) for i in range(30)] + ["bad"],
    )
    land(paths(data_dir), hmac_key, "2026-01-05")
    copy = landing / "clickstream/2026-01-06/events-2026-01-06-007.jsonl.gz"
    copy.parent.mkdir(parents=True)
    shutil.copy(src, copy)
    # and within one run: two copies of a new file
    new = write_jsonl(
        landing / "clickstream/2026-01-06/events-2026-01-06-000.jsonl.gz", [event(i) for i in range(100, 110)]
    )
    shutil.copy(new, landing / "clickstream/2026-01-06/events-2026-01-06-001.jsonl.gz")
    report = land(paths(data_dir), hmac_key, "2026-01-06")
    assert report.totals()["duplicate_files"] == 2
    assert report.totals()["rows_landed"] == 10
    assert _events(data_dir).height == 40
    assert table(data_dir, "quarantine").height == 1
    log = table(data_dir, "_landing_log")
    assert sorted(log["status"].to_list()) == ["duplicate_file", "duplicate_file", "landed", "landed"]
    assert log.filter(pl.col("status") == "landed")["content_sha256"].n_unique() == 2


def test_duplicate_events_across_files_and_days_are_removed_by_event_id(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    day1 = [event(i) for i in range(20)]
    # a late re-delivery on the next day of events 5..9 (same ids, occurred on the 5th) plus new ones
    day2 = [event(i) for i in range(5, 10)] + [
        event(i, occurred_at="2026-01-06T08:00:00+00:00", received_at="2026-01-06T08:00:01Z")
        for i in range(20, 25)
    ]
    write_jsonl(landing / "clickstream/2026-01-05/events-2026-01-05-000.jsonl.gz", day1)
    write_jsonl(landing / "clickstream/2026-01-06/events-2026-01-06-000.jsonl.gz", day2)
    land(paths(data_dir), hmac_key, "2026-01-05")
    second = land(paths(data_dir), hmac_key, "2026-01-06")
    assert second.totals()["duplicates"] == 5 and second.totals()["rows_landed"] == 5
    e = _events(data_dir)
    assert e.height == 25 and e["event_id"].n_unique() == 25
    counts = dict(e.group_by(pl.col("event_date").cast(pl.String)).len().iter_rows())
    assert counts == {"2026-01-05": 20, "2026-01-06": 5}


def test_late_event_lands_into_its_old_partition_and_only_touched_partitions_are_written(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    write_jsonl(
        landing / "clickstream/2026-01-05/events-2026-01-05-000.jsonl.gz",
        [
            event(i, occurred_at="2026-01-03T12:00:00+00:00", received_at="2026-01-03T12:00:01Z")
            for i in range(5)
        ],
    )
    land(paths(data_dir), hmac_key, "2026-01-05")
    table_path = paths(data_dir).table("bronze", "clickstream_events")
    before = {p.name for p in (table_path / "event_date=2026-01-03").iterdir()}
    write_jsonl(
        landing / "clickstream/2026-01-08/events-2026-01-08-000.jsonl.gz",
        [
            event(100, occurred_at="2026-01-05T23:59:00+00:00", received_at="2026-01-08T00:00:01Z"),
            event(101, occurred_at="2026-01-08T00:00:00+00:00", received_at="2026-01-08T00:00:01Z"),
        ],
    )
    land(paths(data_dir), hmac_key, "2026-01-08")
    e = _events(data_dir)
    assert dict(e.group_by(pl.col("event_date").cast(pl.String)).len().iter_rows()) == {
        "2026-01-03": 5,
        "2026-01-05": 1,
        "2026-01-08": 1,
    }
    assert {p.name for p in (table_path / "event_date=2026-01-03").iterdir()} == before
    assert storage.history(table_path, 1)[0]["operationMetrics"]["num_removed_files"] == 0
