"""The ``beacon generate`` command, daylight-saving switches, and flat memory as the data set grows."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from lakehouse.generator import generate

BEACON = Path(sys.executable).parent / "beacon"


def test_beacon_generate_command_writes_landing_and_truth(tmp_path: Path) -> None:
    out = tmp_path / "data" / "landing"
    done = subprocess.run(
        [
            str(BEACON),
            "generate",
            "--out",
            str(out),
            "--users",
            "60",
            "--homes",
            "2",
            "--days",
            "3",
            "--start",
            "2026-02-02",
            "--seed",
            "3",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    manifest = json.loads((tmp_path / "data" / "truth" / "manifest.json").read_text())
    assert manifest["params"] == {
        "users": 60,
        "homes": 2,
        "days": 3,
        "start": "2026-02-02",
        "seed": 3,
        "end_exclusive": "2026-02-05",
    }
    assert f"{manifest['clickstream']['events']:,} events" in done.stdout
    assert f"{manifest['sensors']['readings']:,} readings" in done.stdout
    assert str(tmp_path / "data" / "truth") in done.stdout
    assert sorted(p.name for p in (out / "clickstream").iterdir()) == [
        "2026-02-02",
        "2026-02-03",
        "2026-02-04",
    ]


def test_summary_counts_match_the_manifest(tmp_path: Path) -> None:
    s = generate(
        out=tmp_path / "landing",
        truth=tmp_path / "truth",
        users=80,
        homes=1,
        days=2,
        start=dt.date(2026, 5, 1),
        seed=9,
    )
    m = json.loads((tmp_path / "truth" / "manifest.json").read_text())
    assert s.events == m["clickstream"]["events"] and s.event_lines == m["clickstream"]["lines"]
    assert s.readings == m["sensors"]["readings"] and s.reading_lines == m["sensors"]["lines"]
    assert s.files == len(list((tmp_path / "landing").rglob("*.gz")))
    text = str(s)
    assert "2026-05-01 to 2026-05-02" in text and "seed 9" in text


def test_dst_switch_shifts_offsets_without_duplicate_hours(tmp_path: Path) -> None:
    generate(
        out=tmp_path / "landing",
        truth=tmp_path / "truth",
        users=100,
        homes=6,
        days=4,
        start=dt.date(2026, 3, 27),
        seed=4,
    )
    occ = pl.read_parquet(tmp_path / "truth" / "occupancy.parquet")
    assert occ.height > 0
    assert occ.select("home_id", "room", "hour_start").is_duplicated().sum() == 0
    homes = pl.read_parquet(tmp_path / "truth" / "homes.parquet")
    eu = homes.filter(pl.col("timezone").str.starts_with("Europe/"))["home_id"]
    assert eu.len() > 0
    raw = pl.concat(
        [pl.read_csv(p, infer_schema=False) for p in (tmp_path / "landing" / "sensors").rglob("*.gz")]
    )
    suffix = (
        raw.filter(pl.col("home_id").is_in(eu.implode()))
        .select(
            pl.col("occurred_at").str.slice(0, 10).alias("day"),
            pl.col("occurred_at").str.slice(19).alias("offset"),
            "home_id",
        )
        .unique()
    )
    # 2026-03-29 is the EU switch: Berlin goes from +01:00 to +02:00, London from +00:00 to +01:00
    before = suffix.filter(pl.col("day") == "2026-03-27")["offset"].unique().to_list()
    after = suffix.filter(pl.col("day") == "2026-03-30")["offset"].unique().to_list()
    assert set(before) <= {"+01:00", "+00:00"} and set(after) <= {"+02:00", "+01:00"}
    assert set(before) != set(after)


def _peak_rss_mib(tmp: Path, users: int, days: int) -> tuple[float, int]:
    code = (
        "import datetime as dt, json, resource, sys; from pathlib import Path; "
        "from lakehouse.generator import generate; "
        f"s = generate(Path(sys.argv[1]) / 'l', Path(sys.argv[1]) / 't', {users}, 3, {days}, dt.date(2026, 1, 1), 1); "
        "print(json.dumps([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, s.events]))"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp)], check=True, capture_output=True, text=True)
    rss, events = json.loads(done.stdout.strip().splitlines()[-1])
    return rss, events


@pytest.mark.slow
def test_memory_stays_flat_as_days_and_people_grow(tmp_path: Path) -> None:
    small_rss, small_events = _peak_rss_mib(tmp_path / "small", 3000, 10)
    long_rss, long_events = _peak_rss_mib(tmp_path / "long", 3000, 50)
    wide_rss, wide_events = _peak_rss_mib(tmp_path / "wide", 15000, 10)
    assert long_events > 4 * small_events and wide_events > 4 * small_events
    assert long_rss < 1.5 * small_rss  # days are streamed
    assert wide_rss < 2.5 * small_rss  # people are rendered in chunks of whole sessions: far from 5x
