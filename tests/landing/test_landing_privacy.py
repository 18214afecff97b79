"""No raw identifier in any written byte; consent removes identifiers; pseudonyms are the HMAC."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
from helpers_landing import leaks, table
from landing_files import RAW_ANON, RAW_HOME, RAW_USER, event, reading, write_csv, write_jsonl

from lakehouse.config import paths
from lakehouse.landing import land
from lakehouse.landing.maintenance import maintain_bronze
from lakehouse.pseudonymise import pseudonymise_value

DAY = "2026-01-05"


def _raw_ids() -> list[str]:
    return (
        [f"{RAW_USER}-{i}" for i in range(7)]
        + [f"{RAW_ANON}-{i}" for i in range(5)]
        + [f"{RAW_HOME}-{i}" for i in range(3)]
        + [RAW_USER + "-tr", RAW_HOME + "-q"]
    )


def test_no_raw_identifier_in_any_file_under_delta(landing: Path, data_dir: Path, hmac_key: str) -> None:
    f = write_jsonl(
        landing / f"clickstream/{DAY}/events-{DAY}-000.jsonl.gz",
        [
            *[event(i) for i in range(40)],
            event(41, event_type="bogus"),  # contract failure: raw line in quarantine
            '{"event_id": "t", "anonymous_id": "'
            + RAW_ANON
            + '-1", "user_id": "'
            + RAW_USER
            + "-tr",  # truncated
            '{"event_id": "n", "user_id": ' + "12345678" + ', "anonymous_id": null',  # numeric id, truncated
        ],
    )
    write_csv(
        landing / f"sensors/{DAY}/readings-{DAY}-000.csv.gz",
        [
            *[reading(i) for i in range(9)],
            reading(20, unit="C"),
            f"r-x,{RAW_HOME}-q,dev,kitchen,co2",  # ragged line with a home id
        ],
    )
    land(paths(data_dir), hmac_key, DAY)
    maintain_bronze(paths(data_dir), max_files_per_partition=0, retention_hours=0)  # checkpoints, rewrites

    needles = [*_raw_ids(), "12345678"]
    # the scan can find them: they are in the landing file
    assert RAW_USER + "-3" in gzip.decompress(f.read_bytes()).decode()
    assert leaks(data_dir, needles) == []

    q = table(data_dir, "quarantine")
    assert q.height == 5  # bogus type, two truncated lines, unit mismatch, ragged CSV line
    payloads = "\n".join(q["raw_payload"].to_list())
    assert pseudonymise_value(RAW_USER + "-tr", hmac_key) in payloads  # truncated value, pseudonymised
    assert pseudonymise_value(RAW_HOME + "-q", hmac_key) in payloads  # CSV position, pseudonymised
    assert pseudonymise_value("12345678", hmac_key) in payloads
    e = table(data_dir, "clickstream_events")
    assert set(e["user_id"].to_list()) == {pseudonymise_value(f"{RAW_USER}-{i}", hmac_key) for i in range(7)}
    s = table(data_dir, "sensor_readings")
    assert set(s["home_id"].to_list()) == {pseudonymise_value(f"{RAW_HOME}-{i}", hmac_key) for i in range(3)}
    assert s["user_id"].str.len_chars().unique().to_list() == [64]


def test_events_without_analytics_consent_land_without_identifiers(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    write_jsonl(
        landing / f"clickstream/{DAY}/events-{DAY}-000.jsonl.gz",
        [
            event(1),
            event(2, consent_analytics=False),
            event(3, consent_analytics="false", consent_personalization=False),
            event(4, consent_analytics=True, consent_personalization=False),
        ],
    )
    land(paths(data_dir), hmac_key, DAY)
    e = table(data_dir, "clickstream_events").sort("event_id")
    assert e["consent_analytics"].to_list() == [True, False, False, True]
    assert e.select(pl.col("user_id").is_null(), pl.col("anonymous_id").is_null()).rows() == [
        (False, False),
        (True, True),
        (True, True),
        (False, False),
    ]
    assert e["event_type"].to_list() == ["page_view"] * 4  # the events themselves are kept


def test_the_leak_scan_finds_a_planted_id_and_not_digits_inside_a_longer_number(tmp_path: Path) -> None:
    """The failure path of ``leaks``: a raw id in a column is found (log statistics and values);
    the same digits inside a longer number (a commit timestamp in ms) are not."""
    from lakehouse import storage

    t = tmp_path / "delta" / "bronze" / "planted"
    storage.write_partitions(t, pl.DataFrame({"customer": ["99881.0"], "note": ["ts 1796615499882"]}))
    found = leaks(tmp_path, ["99881", "99882"])
    assert any("'99881' in values" in f for f in found) and any("b'99881' in bytes" in f for f in found)
    assert not any("99882" in f for f in found)
