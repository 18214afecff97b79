"""User imports through source mappings: the two real UCI samples land with counts matching the files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import polars as pl
import pytest
from helpers_landing import leaks, table

from lakehouse.config import paths
from lakehouse.landing import land
from lakehouse.landing.files import mtime_date
from lakehouse.pseudonymise import pseudonymise_value
from lakehouse.samples import sample_data_dir

SHARED = sample_data_dir() or Path(
    "shared-data-not-found"
)  # missing samples make these tests fail, never skip
mappings = pytest.importorskip("lakehouse.mappings")


def _import(landing: Path, name: str, files: list[Path]) -> Path:
    folder = landing / "imports" / name
    folder.mkdir(parents=True)
    shipped = Path(mappings.__file__).parent / "shipped" / f"{name}.yaml"
    shutil.copy(shipped, folder / "mapping.yaml")
    for f in files:
        shutil.copy(f, folder / f.name)
    return folder


def _data_lines(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip())


def test_online_retail_sample_lands_as_clickstream(landing: Path, data_dir: Path, hmac_key: str) -> None:
    files = sorted((SHARED / "uci_online_retail").glob("*.csv"))
    folder = _import(landing, "uci_online_retail", files)
    report = land(paths(data_dir), hmac_key)
    assert report.pending_imports == []
    log = table(data_dir, "_landing_log").sort("source_file")
    assert log["source"].unique().to_list() == ["import:uci_online_retail"]
    assert log["lines_read"].to_list() == [_data_lines(f) for f in files] == [3108, 1632]
    assert (
        log["lines_read"] == log["rows_landed"] + log["rows_quarantined"] + log["duplicates"] + log["skipped"]
    ).all()
    assert log["skipped"].to_list()[0] > 0  # stock adjustment lines skipped on purpose
    e = table(data_dir, "clickstream_events")
    q = table(data_dir, "quarantine")
    assert e.height == log["rows_landed"].sum() and q.height == log["rows_quarantined"].sum()
    assert set(e["event_type"].unique().to_list()) <= {"purchase", "refund"}
    assert e.filter(pl.col("event_type") == "refund").height > 0
    # identifiers pseudonymised: customer 17850 appears in the first file
    assert pseudonymise_value("17850", hmac_key) in set(e["user_id"].drop_nulls().to_list())
    assert leaks(data_dir, ["17850", "customer:17850"]) == []
    # the delivery day of an import is its arrival (mtime, UTC)
    day = mtime_date((folder / files[0].name).stat().st_mtime_ns)
    assert set(log["delivery_date"].to_list()) == {day}
    # landed once, however long it stays
    assert land(paths(data_dir), hmac_key).totals()["files"] == 0


def test_appliances_energy_sample_lands_as_sensor_readings(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    src = SHARED / "uci_appliances_energy" / "energydata_first1000.csv"
    folder = _import(landing, "uci_appliances_energy", [src])
    day = mtime_date((folder / src.name).stat().st_mtime_ns).isoformat()
    other_day = "2020-01-01"
    assert land(paths(data_dir), hmac_key, other_day).totals()["files"] == 0  # not that day's arrival
    report = land(paths(data_dir), hmac_key, day)
    t = report.totals("sensor_readings")
    assert t["files"] == 1
    assert t["lines_read"] == 1000 * 26  # every row melts into 26 readings
    assert t["lines_read"] == t["rows_landed"] + t["rows_quarantined"] + t["duplicates"] + t["skipped"]
    s = table(data_dir, "sensor_readings")
    assert s.height == t["rows_landed"] and s["reading_id"].n_unique() == s.height
    assert s["home_id"].str.len_chars().unique().to_list() == [64]
    per_type = dict(s.group_by("sensor_type").len().iter_rows())
    assert per_type["energy"] == 2000 and per_type["temperature"] == 11_000 and per_type["humidity"] == 10_000
    assert t["rows_quarantined"] == 0 and t["duplicates"] == 0
    assert s["_source_file"].unique().to_list() == ["imports/uci_appliances_energy/energydata_first1000.csv"]


def test_broken_mapping_is_reported_and_other_files_still_land(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    folder = landing / "imports" / "shop"
    folder.mkdir(parents=True)
    (folder / "mapping.yaml").write_text(
        "name: shop\ncontract: clickstream\nfields: {event_id: {column: x, cast: float}}\n"
    )
    (folder / "orders.csv").write_text("x\n1\n")
    from landing_files import event, write_jsonl

    write_jsonl(landing / "clickstream/2026-01-05/events-2026-01-05-000.jsonl.gz", [event(1)])
    report = land(paths(data_dir), hmac_key)
    assert len(report.pending_imports) == 1 and "imports/shop" in report.pending_imports[0]
    assert "mapping.yaml" in report.pending_imports[0]
    assert table(data_dir, "clickstream_events").height == 1
    assert os.path.exists(folder / "orders.csv")  # left in place for the next run


def test_mapping_rejects_and_contract_failures_are_quarantined_without_raw_ids(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    src = SHARED / "uci_online_retail" / "2010-12-01.csv"
    lines = src.read_text(encoding="utf-8").splitlines()
    header, body = lines[0], lines[1:21]
    bad = [
        '536999,22222,"A, B AND C",6,2010-12-01 09:00:00,2.55,99881.0',  # a field short: mapping rejects it
        '537000,22223,"MUG, RED",6,2010-12-01 09:00:00,-2.55,99882.0,United Kingdom',  # negative price
    ]
    folder = _import(landing, "uci_online_retail", [])
    (folder / "orders.csv").write_text("\n".join([header, *body, *bad]) + "\n", encoding="utf-8")
    report = land(paths(data_dir), hmac_key)
    t = report.totals("clickstream_events")
    assert t["lines_read"] == 22 and t["rows_quarantined"] == 2
    assert t["lines_read"] == t["rows_landed"] + t["rows_quarantined"] + t["duplicates"] + t["skipped"]
    q = table(data_dir, "quarantine").sort("source_line")
    assert q["source_line"].to_list() == [22, 23]
    assert q["source"].unique().to_list() == ["import:uci_online_retail"]
    assert "out_of_range[price]" in q["reason"][1]
    text = "\n".join(q["raw_payload"].to_list() + q["reason"].to_list())
    assert "99881" not in text and "99882" not in text
    assert pseudonymise_value("99881.0", hmac_key) in q["raw_payload"][0]
    assert '"A, B AND C"' in q["raw_payload"][0]  # the rest of the line is kept as delivered
    assert leaks(data_dir, ["99881", "99882"]) == []


def test_sensor_notices_import_files_on_their_arrival_day(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    import dagster as dg

    from orchestration.assets.bronze import bronze_landing, bronze_landing_sensor
    from orchestration.resources import default_resources

    src = SHARED / "uci_online_retail" / "2011-12-09.csv"
    folder = _import(landing, "uci_online_retail", [src])
    os.utime(folder / src.name, (1767225600, 1767225600))  # arrived 2026-01-01 00:00 UTC
    resources = default_resources()
    requests = bronze_landing_sensor(dg.build_sensor_context(resources=resources)).run_requests
    assert [r.partition_key for r in requests] == ["2026-01-01"]
    dg.materialize([bronze_landing], partition_key="2026-01-01", resources=resources)
    assert table(data_dir, "clickstream_events").height == 1632
    assert bronze_landing_sensor(dg.build_sensor_context(resources=resources)).run_requests == []
