"""Quarantine: each reason class, counts, lineage, and the lines-read equation."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from helpers_landing import table
from landing_files import RAW_USER, event, reading, write_csv, write_jsonl

from lakehouse.config import paths
from lakehouse.landing import land

DAY = "2026-01-05"


def test_every_reason_class_is_quarantined_with_line_and_reason(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    lines: list = [event(i) for i in range(20)]
    bad = {
        21: '{"event_id": "t1", "event_type": "page_view", "user_id": "' + RAW_USER + "-trunc",  # truncated
        22: "this is not json",
        23: "",  # empty line
        24: "[1, 2]",  # JSON but not an object
        25: event(25, event_id=None),  # missing required field
        26: event(26, price="twelve", event_type="add_to_cart", product_id="p1", quantity=1, currency="EUR"),
        27: event(27, event_type="teleport"),  # unknown event type
        28: event(28, occurred_at="1999-12-31T23:00:00Z"),  # impossible timestamp
        29: event(29, occurred_at="2026-01-09T10:00:00+00:00"),  # days after received_at
        30: event(30, occurred_at="2026-01-05T10:00:00"),  # no offset: ambiguous
        31: event(31, consent_analytics="maybe"),  # wrong-typed boolean
        32: event(32, event_type="purchase"),  # purchase without order/product/price...
    }
    lines += [bad[k] for k in sorted(bad)]
    write_jsonl(landing / f"clickstream/{DAY}/events-{DAY}-000.jsonl.gz", lines)
    report = land(paths(data_dir), hmac_key, DAY)

    q = table(data_dir, "quarantine").sort("source_line")
    assert q["source_line"].to_list() == sorted(bad)
    by_line = dict(zip(q["source_line"].to_list(), q["reason"].to_list(), strict=True))
    assert by_line[21].startswith("malformed_json[line]: not valid JSON")
    assert by_line[22].startswith("malformed_json[line]: not valid JSON")
    assert by_line[23] == "malformed_json[line]: empty line"
    assert by_line[24] == "malformed_json[line]: valid JSON but not an object ({...})"
    assert "missing_field[event_id]" in by_line[25]
    assert "wrong_type[price]: value 'twelve'" in by_line[26]
    assert "not_allowed[event_type]: value 'teleport'" in by_line[27]
    assert "impossible_timestamp[occurred_at]" in by_line[28]
    assert "impossible_timestamp[occurred_at]" in by_line[29]
    assert "wrong_type[occurred_at]" in by_line[30]
    assert "wrong_type[consent_analytics]: value 'maybe'" in by_line[31]
    assert "missing_field[order_id]" in by_line[32] and "missing_field[price]" in by_line[32]
    assert set(q["source"].to_list()) == {"clickstream"}
    assert set(q["source_file"].to_list()) == {f"clickstream/{DAY}/events-{DAY}-000.jsonl.gz"}
    assert q["landing_date"].cast(pl.String).unique().to_list() == [DAY]
    assert q["landing_run_id"].unique().to_list() == [report.run_id]
    # raw payloads are kept (line 22 verbatim), identifiers pseudonymised even in the truncated line
    assert by_line and q.filter(pl.col("source_line") == 22)["raw_payload"][0] == "this is not json"
    truncated = q.filter(pl.col("source_line") == 21)["raw_payload"][0]
    assert RAW_USER not in truncated and truncated.startswith('{"event_id": "t1"')

    events = table(data_dir, "clickstream_events")
    assert events.height == 20
    t = report.totals("clickstream_events")
    assert t == {
        "files": 1,
        "duplicate_files": 0,
        "bytes": t["bytes"],
        "lines_read": 32,
        "rows_landed": 20,
        "rows_quarantined": 12,
        "duplicates": 0,
        "skipped": 0,
    }


def test_lines_read_equation_holds_per_file_and_in_the_ledger(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    a = [event(i) for i in range(10)] + [event(3), event(4), "oops"]  # 2 dups inside the file, 1 bad
    b = [event(i) for i in range(8, 15)] + [event(99, event_type="nope")]  # 8, 9 are dups across files
    write_jsonl(landing / f"clickstream/{DAY}/events-{DAY}-000.jsonl.gz", a)
    write_jsonl(landing / f"clickstream/{DAY}/events-{DAY}-001.jsonl.gz", b)
    write_csv(
        landing / f"sensors/{DAY}/readings-{DAY}-000.csv.gz",
        [reading(i) for i in range(6)] + [reading(2), "r-x,h,only,four", reading(7, value="hot")],
    )
    report = land(paths(data_dir), hmac_key, DAY)

    log = table(data_dir, "_landing_log").sort("source_file")
    assert log.select(
        (
            pl.col("lines_read")
            == pl.col("rows_landed") + pl.col("rows_quarantined") + pl.col("duplicates") + pl.col("skipped")
        ).all()
    ).item()
    rows = {r["source_file"].rsplit("/", 1)[1]: r for r in log.iter_rows(named=True)}
    f0, f1, s0 = (
        rows[f"events-{DAY}-000.jsonl.gz"],
        rows[f"events-{DAY}-001.jsonl.gz"],
        rows[f"readings-{DAY}-000.csv.gz"],
    )
    assert (f0["lines_read"], f0["rows_landed"], f0["rows_quarantined"], f0["duplicates"]) == (13, 10, 1, 2)
    assert (f1["lines_read"], f1["rows_landed"], f1["rows_quarantined"], f1["duplicates"]) == (8, 5, 1, 2)
    assert (s0["lines_read"], s0["rows_landed"], s0["rows_quarantined"], s0["duplicates"]) == (9, 6, 2, 1)
    assert table(data_dir, "clickstream_events").height == 15
    assert table(data_dir, "sensor_readings").height == 6
    assert table(data_dir, "quarantine").height == 4
    sensor_q = table(data_dir, "quarantine").filter(pl.col("source") == "sensors").sort("source_line")
    assert sensor_q["reason"][0] == "malformed_csv[line]: expected 9 fields like the header, got 4"
    assert "wrong_type[value]: value 'hot'" in sensor_q["reason"][1]
    assert report.totals()["lines_read"] == 30


def test_bronze_schema_types_and_lineage(landing: Path, data_dir: Path, hmac_key: str) -> None:
    write_jsonl(
        landing / f"clickstream/{DAY}/events-{DAY}-000.jsonl.gz",
        [
            event(
                1,
                occurred_at="2026-01-04T23:30:00-02:00",
                event_type="add_to_cart",
                product_id="p1",
                price="12.5",
                quantity=2,
                currency="EUR",
            )
        ],
    )
    report = land(paths(data_dir), hmac_key, DAY)
    e = table(data_dir, "clickstream_events")
    assert e.schema["occurred_at"] == pl.Datetime("us", "UTC")
    assert e.schema["quantity"] == pl.Int32 and e.schema["price"] == pl.Float64
    assert e.schema["event_date"] == pl.Date and e.schema["_source_line"] == pl.Int64
    row = e.row(0, named=True)
    assert str(row["event_date"]) == "2026-01-05"  # 23:30 at -02:00 is 01:30 UTC next day
    assert row["tz_offset_minutes"] == -120 and row["price"] == 12.5 and row["quantity"] == 2
    assert row["_source_file"] == f"clickstream/{DAY}/events-{DAY}-000.jsonl.gz" and row["_source_line"] == 1
    assert row["_landing_run_id"] == report.run_id and row["_landed_at"] is not None
    assert (data_dir / "delta/bronze/clickstream_events/event_date=2026-01-05").is_dir()
