"""A BI reader in another process, holding ``marts.duckdb`` open through builds and publishes.

What must hold (the reason the published file exists): the reader never errors, never blocks the
build or the publish, and only ever sees complete snapshots (every table's rows and ``run_tag``
agree with the run id in ``_beacon.publication``); an open connection keeps its snapshot, a new
connection sees the newest publication.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from lakehouse.publish import publish_marts

READER = Path(__file__).with_name("publish_reader_proc.py")
MAX_READER_SECONDS = 90


def _records(out: Path) -> list[dict]:
    lines = out.read_text().splitlines() if out.exists() else []
    return [json.loads(line) for line in lines if line.endswith("}")]


def _wait_for(predicate: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the reader"
        time.sleep(0.02)


@contextmanager
def _reader(db: Path, control: Path, mode: str) -> Iterator[Path]:
    control.mkdir()
    out = control / "reader.jsonl"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, str(READER), str(db), str(control), mode, str(MAX_READER_SECONDS)],
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            yield out
        finally:
            (control / "stop").touch()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            stderr = proc.stderr.read() if proc.stderr else ""
            if proc.stderr:
                proc.stderr.close()
    assert proc.returncode == 0, stderr


def test_held_reader_keeps_its_snapshot_and_never_blocks_build_or_publish(
    build_db, published_db, tmp_path
) -> None:
    publish_marts(build_db("run-1", rows=20_000), published_db, run_id="run-1")
    with _reader(published_db, tmp_path / "ctl", "hold") as out:
        _wait_for(lambda: any(r.get("run_id") == "run-1" for r in _records(out)))
        # Control: writing the published file in place (the naive design) is what the reader blocks.
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(published_db))

        # A long "dbt build" into the private file while the BI connection is open: not blocked.
        started = time.monotonic()
        build = build_db("run-2", rows=2_000_000)
        build_seconds = time.monotonic() - started
        result = publish_marts(build, published_db, run_id="run-2")
        published_at = time.time()
        assert result.row_counts["main.fct_events"] == 2_000_000

        # The open connection still reads the file it opened: the old, complete snapshot.
        _wait_for(lambda: sum(r["t"] > published_at for r in _records(out)) >= 20)
        (tmp_path / "ctl" / "reconnect-1").touch()
        _wait_for(lambda: any(r.get("conn") == 2 and "run_id" in r for r in _records(out)))
        # And publishing again while the NEW snapshot is held works too.
        publish_marts(build_db("run-3", rows=1_000), published_db, run_id="run-3")
        _wait_for(lambda: sum(r.get("conn") == 2 for r in _records(out)) >= 20)

    records = _records(out)
    assert [r for r in records if "error" in r] == []
    assert all(r["consistent"] for r in records)
    assert {r["run_id"] for r in records if r["conn"] == 1} == {"run-1"}
    assert {r["run_id"] for r in records if r["conn"] == 2} == {"run-2"}
    assert sum(r["t"] > published_at and r["conn"] == 1 for r in records) >= 20
    assert build_seconds > 0.2  # the simulated build really overlapped the reader


def test_reconnecting_reader_sees_only_whole_publications(build_db, published_db, tmp_path) -> None:
    """A pool that opens a new connection for every query, racing five publishes (sizes differ each run)."""
    publish_marts(build_db("gen-0", rows=5_000), published_db, run_id="gen-0")
    runs = [f"gen-{i}" for i in range(1, 6)]
    with _reader(published_db, tmp_path / "ctl", "churn") as out:
        _wait_for(lambda: len(_records(out)) >= 5)
        for i, run in enumerate(runs, start=1):
            publish_marts(build_db(run, rows=5_000 + 40_000 * i), published_db, run_id=run)
            time.sleep(0.1)
        final_seen_after = time.time()
        _wait_for(lambda: sum(r["t"] > final_seen_after for r in _records(out)) >= 5)

    records = _records(out)
    assert [r for r in records if "error" in r] == []
    assert all(r["consistent"] for r in records)
    order = ["gen-0", *runs]
    seen = [order.index(r["run_id"]) for r in records]
    assert seen == sorted(seen), "a new connection went back to an older publication"
    assert len(set(seen)) >= 3  # the reader really raced several publishes
    assert records[-1]["run_id"] == "gen-5"
    assert len({r["conn"] for r in records}) == len(records)  # churn: one connection per snapshot
