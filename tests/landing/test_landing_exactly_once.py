"""Exactly once: the same file twice, renamed copies, re-runs, duplicates across days and late events."""

from __future__ import annotations

import datetime as dt
import json
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
    # the landing commit only added files: no "remove" action in the table's last log entry
    last = sorted((table_path / "_delta_log").glob("*.json"))[-1]
    actions = [json.loads(line) for line in last.read_text().splitlines() if line.strip()]
    assert any("add" in a for a in actions) and not any("remove" in a for a in actions)
    assert storage.history(table_path, 1)[0]["operation"] == "WRITE"


def test_redelivered_event_with_another_event_date_is_a_duplicate(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    """A client clock resend: the same event_id later, with another occurred_at (another event
    date). It is counted as a duplicate, not landed twice, and the new partition is not created."""
    write_jsonl(
        landing / "clickstream/2026-01-05/events-2026-01-05-000.jsonl.gz",
        [event(i, occurred_at="2026-01-05T10:00:00+00:00") for i in range(10)],
    )
    land(paths(data_dir), hmac_key, "2026-01-05")
    table_path = paths(data_dir).table("bronze", "clickstream_events")
    before = {p.name: sorted(f.name for f in p.iterdir()) for p in table_path.glob("event_date=*")}
    resent = [
        event(i, occurred_at="2026-01-07T09:00:00+00:00", received_at="2026-01-07T09:00:01Z")
        for i in range(3)
    ]
    fresh = event(99, occurred_at="2026-01-07T09:00:00+00:00", received_at="2026-01-07T09:00:01Z")
    write_jsonl(landing / "clickstream/2026-01-07/events-2026-01-07-000.jsonl.gz", [*resent, fresh])
    report = land(paths(data_dir), hmac_key, "2026-01-07")
    assert report.totals("clickstream_events") | {"bytes": 0} == {
        "files": 1,
        "duplicate_files": 0,
        "bytes": 0,
        "lines_read": 4,
        "rows_landed": 1,
        "rows_quarantined": 0,
        "duplicates": 3,
        "skipped": 0,
    }
    e = _events(data_dir)
    assert e.height == 11 and e["event_id"].n_unique() == 11
    assert e.filter(pl.col("event_id") == "e-000001")["event_date"].cast(pl.String).to_list() == [
        "2026-01-05"
    ]
    # the old partition was not rewritten; only the fresh event's partition got a file
    after = {p.name: sorted(f.name for f in p.iterdir()) for p in table_path.glob("event_date=*")}
    assert after["event_date=2026-01-05"] == before["event_date=2026-01-05"]
    assert set(after) == {"event_date=2026-01-05", "event_date=2026-01-07"}
    # the key index knows every landed key once, with its event date
    index = table(data_dir, "_clickstream_events_keys")
    assert index.height == 11 and index["event_id"].n_unique() == 11


def test_key_index_is_built_from_tables_landed_before_it_existed(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    """Bronze tables landed by an older Beacon have no key index: the next run builds it from the
    table first, so an earlier event re-delivered with another date is still a duplicate."""
    write_jsonl(
        landing / "clickstream/2026-01-05/events-2026-01-05-000.jsonl.gz",
        [event(i, occurred_at="2026-01-05T10:00:00+00:00") for i in range(6)],
    )
    land(paths(data_dir), hmac_key, "2026-01-05")
    shutil.rmtree(paths(data_dir).table("bronze", "_clickstream_events_keys"))
    write_jsonl(
        landing / "clickstream/2026-01-06/events-2026-01-06-000.jsonl.gz",
        [event(2, occurred_at="2026-01-04T23:00:00+00:00", received_at="2026-01-06T00:00:01Z")],
    )
    report = land(paths(data_dir), hmac_key, "2026-01-06")
    assert (report.totals()["rows_landed"], report.totals()["duplicates"]) == (0, 1)
    assert _events(data_dir).height == 6
    assert table(data_dir, "_clickstream_events_keys")["event_id"].sort().to_list() == [
        f"e-{i:06d}" for i in range(6)
    ]


def test_one_run_for_a_range_of_days_commits_once_per_table(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    """Three delivery days in one run: one commit per table, the ledger equation per file."""
    for d in range(5, 8):
        day = f"2026-01-{d:02d}"
        write_jsonl(
            landing / f"clickstream/{day}/events-{day}-000.jsonl.gz",
            [
                event(d * 100 + i, occurred_at=f"{day}T10:00:00+00:00", received_at=f"{day}T10:00:01Z")
                for i in range(5)
            ]
            + [event(999, occurred_at=f"{day}T10:00:00+00:00", received_at=f"{day}T10:00:01Z"), "bad"],
        )
    write_jsonl(landing / "clickstream/2026-01-08/events-2026-01-08-000.jsonl.gz", [event(900)])
    table_path = paths(data_dir).table("bronze", "clickstream_events")
    v0 = storage.table_version(table_path) or 0
    report = land(paths(data_dir), hmac_key, ["2026-01-05", "2026-01-06", "2026-01-07"])
    assert report.days == tuple(dt.date(2026, 1, d) for d in range(5, 8)) and report.partition is None
    t = report.totals("clickstream_events")
    assert (t["files"], t["lines_read"], t["rows_landed"], t["rows_quarantined"], t["duplicates"]) == (
        3,
        21,
        16,
        3,
        2,
    )
    assert storage.table_version(table_path) == v0 + 1  # one data commit for the three days
    log = table(data_dir, "_landing_log")
    assert (
        log.height == 3
        and (log["lines_read"] == log["rows_landed"] + log["rows_quarantined"] + log["duplicates"]).all()
    )
    assert _events(data_dir).height == 16  # the 8th was not asked for
