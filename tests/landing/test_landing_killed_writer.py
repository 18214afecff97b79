"""A landing process SIGKILLed at each commit point, then retried, leaves exact counts."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from helpers_landing import table
from landing_files import event, reading, write_csv, write_jsonl

from lakehouse.config import PROJECT_ROOT, paths
from lakehouse.landing import land
from lakehouse.landing.engine import PAUSE_AT_ENV, PAUSE_MARKER_ENV

DAY = "2026-01-05"
SCRIPT = (
    "import sys; from lakehouse.config import paths; from lakehouse.landing import land; "
    "land(paths(sys.argv[1]), sys.argv[2], sys.argv[3], batch_files=1)"
)


def _fixture(landing: Path) -> None:
    # three clickstream files (one batch each), with duplicates across files and bad lines
    write_jsonl(
        landing / f"clickstream/{DAY}/events-{DAY}-000.jsonl.gz", [event(i) for i in range(40)] + ["x"]
    )
    write_jsonl(
        landing / f"clickstream/{DAY}/events-{DAY}-001.jsonl.gz",
        [event(i) for i in range(30, 70)] + ["y", event(500, event_type="nope")],
    )
    write_jsonl(landing / f"clickstream/{DAY}/events-{DAY}-002.jsonl.gz", [event(i) for i in range(60, 90)])
    write_csv(
        landing / f"sensors/{DAY}/readings-{DAY}-000.csv.gz", [reading(i) for i in range(12)] + ["r,bad"]
    )


def _kill_at(point: str, data_dir: Path, key: str, occurrence_marker: Path) -> None:
    env = {
        **os.environ,
        PAUSE_AT_ENV: point,
        PAUSE_MARKER_ENV: str(occurrence_marker),
        "BEACON_DATA_DIR": str(data_dir),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(data_dir), key, DAY],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not occurrence_marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"landing exited before {point}: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"landing never reached {point}")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("point", ["before_data_commit", "after_data_commit", "after_quarantine_commit"])
def test_killed_then_retried_lands_everything_exactly_once(
    point: str, landing: Path, data_dir: Path, hmac_key: str, tmp_path: Path
) -> None:
    _fixture(landing)
    _kill_at(point, data_dir, hmac_key, tmp_path / "paused")
    # the first batch was interrupted: nothing is in the ledger yet
    assert not (data_dir / "delta/bronze/_landing_log").exists()
    if point != "before_data_commit":
        assert table(data_dir, "clickstream_events").height == 40  # data committed, ledger not
    report = land(paths(data_dir), hmac_key, DAY)
    recovered = [f for f in report.files if f.recovered]
    assert len(recovered) == (0 if point == "before_data_commit" else 1)

    e = table(data_dir, "clickstream_events")
    assert e.height == 90 and e["event_id"].n_unique() == 90
    # the key index names each landed key once, also when the killed run never committed it
    index = table(data_dir, "_clickstream_events_keys")
    assert sorted(index["event_id"].to_list()) == sorted(e["event_id"].to_list())
    q = table(data_dir, "quarantine")
    assert q.height == 4  # x, y, nope, and the ragged sensor line
    assert q.select(pl.struct("source_file", "source_line").n_unique()).item() == 4
    assert table(data_dir, "sensor_readings").height == 12
    log = table(data_dir, "_landing_log").sort("source_file")
    assert log.height == 4 and log["content_sha256"].n_unique() == 4
    assert log["rows_landed"].to_list() == [40, 30, 20, 12]
    assert log["duplicates"].to_list() == [0, 10, 10, 0]
    assert log["rows_quarantined"].to_list() == [1, 2, 0, 1]
    assert (log["lines_read"] == log["rows_landed"] + log["rows_quarantined"] + log["duplicates"]).all()
    # and a further run changes nothing
    assert land(paths(data_dir), hmac_key, DAY).totals()["files"] == 0
    assert table(data_dir, "clickstream_events").height == 90


def test_killed_in_a_later_batch_keeps_earlier_batches(
    landing: Path, data_dir: Path, hmac_key: str, tmp_path: Path
) -> None:
    """Kill after the first batch was fully logged, at the second batch's data commit."""
    _fixture(landing)
    env_marker = tmp_path / "paused"
    land(paths(data_dir), hmac_key, DAY, batch_files=1, batch_bytes=1)  # earlier batches, fully logged
    before = table(data_dir, "clickstream_events").height
    write_jsonl(
        landing / "clickstream/2026-01-06/events-2026-01-06-000.jsonl.gz", [event(i) for i in range(85, 120)]
    )
    env = {**os.environ, PAUSE_AT_ENV: "after_data_commit", PAUSE_MARKER_ENV: str(env_marker)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(data_dir), hmac_key, "2026-01-06"], env=env, cwd=PROJECT_ROOT
    )
    deadline = time.monotonic() + 120
    while not env_marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert table(data_dir, "clickstream_events").height == before + 30
    report = land(paths(data_dir), hmac_key, "2026-01-06")
    assert [f.recovered for f in report.files] == [True]
    assert report.totals() | {"bytes": 0} == {
        "files": 1,
        "duplicate_files": 0,
        "bytes": 0,
        "lines_read": 35,
        "rows_landed": 30,
        "rows_quarantined": 0,
        "duplicates": 5,
        "skipped": 0,
    }
    assert table(data_dir, "clickstream_events")["event_id"].n_unique() == before + 30 == 120


def test_files_written_but_never_committed_are_ignored_then_vacuumed(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    """A writer killed inside the Delta write leaves Parquet files the log never references."""
    from lakehouse import storage

    _fixture(landing)
    land(paths(data_dir), hmac_key, DAY)
    t = paths(data_dir).table("bronze", "clickstream_events")
    part = t / "event_date=2026-01-05"
    committed = sorted(part.glob("*.parquet"))
    orphan = part / "part-00000-00000000-dead-beef-0000-000000000000-c000.snappy.parquet"
    shutil.copy(committed[0], orphan)  # same rows again, but never committed
    write_jsonl(
        landing / "clickstream/2026-01-06/events-2026-01-06-000.jsonl.gz", [event(i) for i in range(88, 95)]
    )
    report = land(paths(data_dir), hmac_key, "2026-01-06")
    assert report.totals()["rows_landed"] == 5 and report.totals()["duplicates"] == 2
    e = table(data_dir, "clickstream_events")
    assert e.height == 95 and e["event_id"].n_unique() == 95
    removed = storage.vacuum(t, retention_hours=0)
    assert any(orphan.name in r for r in removed) and not orphan.exists()
    assert table(data_dir, "clickstream_events").height == 95
