"""The shipped mappings on the real UCI samples in ../shared/data, checked against the files
themselves (parsed independently with the csv module), then against the contracts."""

from __future__ import annotations

import csv
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from lakehouse.contracts import CONTRACTS, validate_frame
from lakehouse.mappings import MappedChunk, shipped_mapping
from lakehouse.samples import sample_data_dir

DATA = sample_data_dir() or Path("shared-data-not-found")
pytestmark = pytest.mark.skipif(
    not DATA.is_dir() and not os.environ.get("CI"),  # CI must have them: fail there, never skip
    reason="real data samples (shared/data) not found: set BEACON_SAMPLE_DATA",
)
RETAIL_FILES = ("2010-12-01.csv", "2011-12-09.csv")
ENERGY_FILE = "energydata_first1000.csv"
UUID_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def source_rows(path: Path) -> list[dict[str, object]]:
    """Every data record with its first physical line number and raw text, via the csv module."""
    lines = path.read_text(encoding="utf-8").split("\n")
    out: list[dict[str, object]] = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        end = reader.line_num
        for row in reader:
            start = end + 1
            end = reader.line_num
            raw = "\n".join(lines[start - 1 : end]).removesuffix("\r")
            out.append({**dict(zip(header, row, strict=True)), "_line": start, "_raw": raw})
    return out


def read_all(name: str, path: Path, chunk_rows: int) -> tuple[pl.DataFrame, pl.DataFrame, int, int]:
    chunks: list[MappedChunk] = list(shipped_mapping(name).read(path, chunk_rows=chunk_rows))
    records = pl.concat([c.records for c in chunks])
    rejected = pl.concat([c.rejected for c in chunks])
    return records, rejected, sum(c.skipped for c in chunks), len(chunks)


def is_adjustment(row: dict[str, object]) -> bool:
    return row["Description"] == "" and float(str(row["UnitPrice"])) == 0 and row["CustomerID"] == ""


@pytest.mark.parametrize("file_name", RETAIL_FILES)
def test_online_retail_counts_reconcile_and_records_are_valid(file_name: str) -> None:
    path = DATA / "uci_online_retail" / file_name
    rows = source_rows(path)
    kept = [r for r in rows if not is_adjustment(r)]
    records, rejected, skipped, n_chunks = read_all("uci_online_retail", path, chunk_rows=700)

    assert n_chunks == -(-len(rows) // 700)  # streamed in chunks of at most 700 source records
    assert records.height == len(kept)
    assert rejected.height == 0
    assert skipped == len(rows) - len(kept)
    assert records.height + rejected.height + skipped == len(rows)

    refunds = sum(str(r["InvoiceNo"]).startswith("C") for r in kept)
    anonymous = sum(r["CustomerID"] == "" for r in kept)
    assert refunds > 0 and anonymous > 0
    assert records.filter(pl.col("event_type") == "refund").height == refunds
    assert records.filter(pl.col("event_type") == "purchase").height == len(kept) - refunds
    assert records.filter(pl.col("user_id").is_null()).height == anonymous
    assert records.filter(pl.col("anonymous_id").str.starts_with("invoice:")).height == anonymous

    validated = validate_frame(CONTRACTS["clickstream"], records).collect()
    bad = validated.filter(pl.col("_reasons").list.len() > 0)
    assert bad.height == 0, bad.select("_source_line", "_reasons").head(5)
    assert validated["country"].null_count() == 0  # every country in the samples is mapped


@pytest.mark.parametrize("file_name", RETAIL_FILES)
def test_online_retail_every_value_matches_the_file(file_name: str) -> None:
    path = DATA / "uci_online_retail" / file_name
    kept = [r for r in source_rows(path) if not is_adjustment(r)]
    records, _, _, _ = read_all("uci_online_retail", path, chunk_rows=200_000)
    london = ZoneInfo("Europe/London")
    expected = pl.DataFrame(
        {
            "_source_line": [r["_line"] for r in kept],
            "x_raw": [r["_raw"] for r in kept],
            "x_order": [r["InvoiceNo"] for r in kept],
            "x_product": [r["StockCode"] for r in kept],
            "x_price": [float(str(r["UnitPrice"])) for r in kept],
            "x_quantity": [abs(int(str(r["Quantity"]))) for r in kept],
            "x_user": [str(int(float(str(r["CustomerID"])))) if r["CustomerID"] else None for r in kept],
            "x_utc": [
                datetime.strptime(str(r["InvoiceDate"]), "%Y-%m-%d %H:%M:%S")
                .replace(tzinfo=london)
                .astimezone(UTC)
                for r in kept
            ],
        },
        schema_overrides={"_source_line": pl.Int64, "x_utc": pl.Datetime("us", "UTC")},
    )
    typed = validate_frame(CONTRACTS["clickstream"], records).collect()
    joined = typed.join(expected, on="_source_line", how="full", coalesce=True)
    assert joined.height == len(kept)
    assert (joined["_raw"] == joined["x_raw"]).all()
    assert (joined["order_id"] == joined["x_order"]).all()
    assert (joined["product_id"] == joined["x_product"]).all()
    assert (joined["price"] == joined["x_price"]).all()
    assert (joined["quantity"].cast(pl.Int64) == joined["x_quantity"]).all()
    assert joined.select((pl.col("user_id").eq_missing(pl.col("x_user"))).all()).item()
    assert (joined["occurred_at"] == joined["x_utc"]).all()
    assert (joined["received_at"] == joined["occurred_at"]).all()
    assert (joined["tz_offset_minutes"] == 0).all()  # December in London is GMT
    assert (joined["currency"] == "GBP").all()
    assert joined["consent_analytics"].all() and joined["consent_personalization"].all()


def test_online_retail_spot_checks_on_named_lines() -> None:
    path = DATA / "uci_online_retail" / "2010-12-01.csv"
    records, _, _, _ = read_all("uci_online_retail", path, chunk_rows=200_000)
    by_line = {r["_source_line"]: r for r in records.iter_rows(named=True)}
    first = by_line[
        2
    ]  # 536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,...
    assert (first["price"], first["quantity"], first["user_id"]) == (2.55, 6, "17850")
    assert first["anonymous_id"] == "customer:17850" and first["occurred_at"] == "2010-12-01T08:26:00+00:00"
    quoted = by_line[111]  # 536381,82567,"AIRLINE LOUNGE,METAL SIGN",2,2010-12-01 09:41:00,2.1,15311.0,...
    assert '"AIRLINE LOUNGE,METAL SIGN"' in quoted["_raw"]
    assert (quoted["product_id"], quoted["quantity"], quoted["price"], quoted["user_id"]) == (
        "82567",
        2,
        2.1,
        "15311",
    )
    discount = by_line[143]  # C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527.0,United Kingdom
    assert (discount["event_type"], discount["quantity"], discount["price"]) == ("refund", 1, 27.5)
    assert discount["category"] == "discount" and discount["order_id"] == "C536379"
    guest = by_line[1816]  # 536544,DOT,DOTCOM POSTAGE,1,...,569.77,,United Kingdom
    assert guest["user_id"] is None and guest["anonymous_id"] == "invoice:536544"
    assert guest["category"] == "shipping"
    eire = by_line[1425]  # 536540,C2,CARRIAGE,1,...,50.0,14911.0,EIRE
    assert eire["country"] == "IE"
    assert 624 not in by_line and 2408 not in by_line  # stock adjustments are skipped, not landed


def test_online_retail_event_ids_are_deterministic_and_unique() -> None:
    ids = []
    for file_name in RETAIL_FILES:
        path = DATA / "uci_online_retail" / file_name
        first, _, _, _ = read_all("uci_online_retail", path, chunk_rows=200_000)
        again, _, _, _ = read_all("uci_online_retail", path, chunk_rows=333)  # other chunking, same ids
        assert first["event_id"].to_list() == again["event_id"].to_list()
        assert first["event_id"].n_unique() == first.height
        assert first["event_id"].str.contains(f"^uci-retail-{UUID_ID}$").all()
        ids.append(set(first["event_id"]))
    assert not ids[0] & ids[1]


def test_appliances_energy_melts_every_sensor_column() -> None:
    path = DATA / "uci_appliances_energy" / ENERGY_FILE
    rows = source_rows(path)
    sensor_columns = [c for c in rows[0] if c not in ("date", "rv1", "rv2", "_line", "_raw")]
    assert len(sensor_columns) == 26
    records, rejected, skipped, _ = read_all("uci_appliances_energy", path, chunk_rows=300)
    assert records.height == len(rows) * 26
    assert rejected.height == 0 and skipped == 0

    validated = validate_frame(CONTRACTS["sensors"], records).collect()
    bad = validated.filter(pl.col("_reasons").list.len() > 0)
    assert bad.height == 0, bad.select("_source_line", "_reasons").head(5)

    counts = dict(records.group_by("sensor_type").len().iter_rows())
    n = len(rows)
    assert counts == {
        "energy": 2 * n,
        "temperature": 11 * n,
        "humidity": 10 * n,
        "pressure": n,
        "wind_speed": n,
        "visibility": n,
    }
    devices = set(records["device_id"])
    assert devices == {f"uci-{c}" for c in sensor_columns}
    assert "uci-rv1" not in devices and "uci-rv2" not in devices
    rooms = dict(records.select("device_id", "room").unique().iter_rows())
    assert (
        rooms["uci-T1"] == "kitchen" and rooms["uci-RH_9"] == "parents_room" and rooms["uci-T6"] == "outdoor"
    )
    assert rooms["uci-Tdewpoint"] == "outdoor" and rooms["uci-Appliances"] == "whole_house"
    assert (records["home_id"] == "uci-house-1").all() and records["user_id"].null_count() == records.height

    # every melted value equals its source cell (numbers are space-padded in the file)
    expected = pl.DataFrame(
        [
            {
                "_source_line": r["_line"],
                "device_id": f"uci-{c}",
                "x_value": float(str(r[c]).strip()),
                "x_raw": r["_raw"],
            }
            for r in rows
            for c in sensor_columns
        ],
        schema_overrides={"_source_line": pl.Int64},
    )
    joined = validated.join(expected, on=["_source_line", "device_id"], how="full", coalesce=True)
    assert joined.height == records.height
    assert (joined["value"] == joined["x_value"]).all()
    assert (joined["_raw"] == joined["x_raw"]).all()


def test_appliances_energy_spot_check_and_local_time() -> None:
    path = DATA / "uci_appliances_energy" / ENERGY_FILE
    records, _, _, _ = read_all("uci_appliances_energy", path, chunk_rows=200_000)
    typed = validate_frame(CONTRACTS["sensors"], records).collect()
    # line 2: "2016-01-11 17:00:00","  60","30","19.890000000000001",...  (T6 is " 7.026666666666669947")
    line2 = {r["device_id"]: r for r in typed.filter(pl.col("_source_line") == 2).iter_rows(named=True)}
    assert len(line2) == 26
    assert line2["uci-Appliances"]["value"] == 60.0 and line2["uci-Appliances"]["unit"] == "Wh"
    assert line2["uci-T6"]["value"] == pytest.approx(7.026666666666669947)
    assert line2["uci-T1"]["occurred_at"] == datetime(2016, 1, 11, 16, 0, tzinfo=UTC)  # CET = UTC+1
    assert line2["uci-T1"]["tz_offset_minutes"] == 60
    assert line2["uci-Press_mm_hg"]["unit"] == "mmHg" and line2["uci-Windspeed"]["unit"] == "m/s"
    last = typed.filter(pl.col("_source_line") == 1001)
    assert last.height == 26  # CRLF file: header is line 1, 1000 data lines end on line 1001


def test_appliances_energy_reading_ids_are_deterministic() -> None:
    path = DATA / "uci_appliances_energy" / ENERGY_FILE
    first, _, _, _ = read_all("uci_appliances_energy", path, chunk_rows=200_000)
    again, _, _, _ = read_all("uci_appliances_energy", path, chunk_rows=77)
    assert first["reading_id"].n_unique() == first.height
    assert (
        first.sort("reading_id")["reading_id"].to_list() == again.sort("reading_id")["reading_id"].to_list()
    )
    assert bool(re.fullmatch(f"uci-energy-{UUID_ID}", first["reading_id"][0]))
