"""The collector in process: validation answers, durable files, landing quarantines what was rejected."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from realtime_helpers import event, read_delta

from lakehouse.config import paths
from lakehouse.landing import land
from lakehouse.realtime.collector import CollectorSettings, create_app
from lakehouse.realtime.segment import map_segment


@pytest.fixture
def client(data_dir: Path) -> TestClient:
    return TestClient(create_app(CollectorSettings(landing=paths().landing, rate_burst=1000)))


def _files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "landing" / "clickstream").glob("*/*.jsonl.gz"))


def test_batch_answers_per_event_and_landing_quarantines_the_rejected(
    client: TestClient, data_dir: Path, hmac_key: str
) -> None:
    good = [event(i) for i in range(3)]
    bad_type = event(9, event_type="teleport")
    bad_qty = event(10, quantity=0)
    resp = client.post("/v1/events", json={"events": [*good, bad_type, "not-an-object", bad_qty]})
    assert resp.status_code == 207
    body = resp.json()
    assert body["stored"] is True and body["accepted"] == 3 and body["rejected"] == 3
    by_index = {r["index"]: r for r in body["results"]}
    assert [by_index[i]["status"] for i in range(6)] == ["accepted"] * 3 + ["rejected"] * 3
    assert (
        by_index[3]["errors"][0]["code"] == "not_allowed"
        and by_index[3]["errors"][0]["field"] == "event_type"
    )
    assert by_index[4]["errors"][0]["code"] == "malformed_json"
    assert {(e["code"], e["field"]) for e in by_index[5]["errors"]} == {("out_of_range", "quantity")}

    files = _files(data_dir)
    assert len(files) == 1 and body["file"] == files[0].relative_to(data_dir / "landing").as_posix()
    lines = gzip.decompress(files[0].read_bytes()).decode().splitlines()
    assert len(lines) == 6 and json.loads(lines[4]) == "not-an-object"
    assert all(json.loads(lines[i])["received_at"].endswith("Z") for i in (0, 1, 2, 3, 5))
    # Leftover temp files never exist after an acknowledged write.
    assert not list((data_dir / "landing").rglob("*.partial"))

    report = land(paths(), hmac_key)
    assert report.totals("clickstream_events")["rows_landed"] == 3
    bronze = read_delta(data_dir / "delta" / "bronze" / "clickstream_events")
    assert sorted(bronze["event_id"].to_list()) == sorted(e["event_id"] for e in good)
    quarantine = read_delta(data_dir / "delta" / "bronze" / "quarantine").sort("source_line")
    assert quarantine["source_line"].to_list() == [4, 5, 6]
    assert quarantine["source_file"].unique().to_list() == [body["file"]]
    assert quarantine.filter(pl.col("source_line") == 4)["reason"][0].startswith("not_allowed[event_type]")


def test_segment_track_calls_map_onto_the_contract(client: TestClient, data_dir: Path, hmac_key: str) -> None:
    ctx = {
        "page": {"url": "https://shop.example/cart"},
        "device": {"type": "mobile"},
        "location": {"country": "DE"},
        "consent": {"categoryPreferences": {"Analytics": True, "Personalization": False}},
    }
    added = {
        "messageId": "m-1",
        "event": "Product Added",
        "userId": "u000001",
        "anonymousId": "a-1",
        "originalTimestamp": "2026-01-05T10:00:00.125+01:00",
        "properties": {
            "product_id": "sku-1",
            "category": "kitchen",
            "price": 3.5,
            "quantity": 2,
            "currency": "EUR",
        },
        "context": ctx,
    }
    r = client.post("/v1/track", json=added)
    assert r.status_code == 200, r.json()
    order = {
        "type": "track",
        "messageId": "m-2",
        "event": "Order Completed",
        "userId": "u000001",
        "anonymousId": "a-1",
        "timestamp": "2026-01-05T10:05:00+01:00",
        "properties": {
            "order_id": "o-1",
            "currency": "EUR",
            "products": [
                {"product_id": "sku-1", "price": 3.5, "quantity": 2, "category": "kitchen"},
                {"sku": "sku-2", "price": 9.0, "quantity": 1, "category": "books"},
            ],
        },
        "context": ctx,
    }
    r = client.post("/v1/batch", json={"batch": [order]})
    assert r.status_code == 200, r.json()
    assert [x["event_id"] for x in r.json()["results"]] == ["m-2:0", "m-2:1"]
    assert [x["index"] for x in r.json()["results"]] == [0, 0]

    land(paths(), hmac_key)
    bronze = read_delta(data_dir / "delta" / "bronze" / "clickstream_events").sort("event_id")
    assert bronze["event_id"].to_list() == ["m-1", "m-2:0", "m-2:1"]
    assert bronze["event_type"].to_list() == ["add_to_cart", "purchase", "purchase"]
    assert bronze["product_id"].to_list() == ["sku-1", "sku-1", "sku-2"]
    assert bronze["quantity"].to_list() == [2, 2, 1]
    assert bronze["consent_personalization"].to_list() == [False] * 3
    assert bronze["tz_offset_minutes"].to_list() == [60, 60, 60]
    assert bronze["page_url"][0] == "https://shop.example/cart" and bronze["country"][0] == "DE"


def test_unknown_segment_event_is_rejected_with_its_name() -> None:
    rec = map_segment({"type": "track", "messageId": "x", "event": "Coupon Applied"})[0]
    assert rec["event_type"] == "coupon_applied"


def test_limits_cors_health_and_gzip(data_dir: Path) -> None:
    app = create_app(
        CollectorSettings(
            landing=paths().landing, max_body_bytes=2_000, max_events=3, rate_per_second=0.01, rate_burst=5
        )
    )
    client = TestClient(app)
    big = client.post(
        "/v1/events", content=b"[" + b" " * 3_000 + b"]", headers={"content-type": "application/json"}
    )
    assert big.status_code == 413 and big.json()["stored"] is False
    many = client.post("/v1/events", json=[event(i) for i in range(4)])
    assert many.status_code == 413
    gz = client.post(
        "/v1/events",
        content=gzip.compress(json.dumps([event(1)]).encode()),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert gz.status_code == 200 and gz.json()["accepted"] == 1
    not_json = client.post("/v1/events", content=b"{nope", headers={"content-type": "application/json"})
    assert not_json.status_code == 400
    # burst of 5 used up (4 above + this one), then 429 with Retry-After
    assert client.post("/v1/events", json=event(2)).status_code == 200
    limited = client.post("/v1/events", json=event(3))
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    pre = client.options(
        "/v1/events",
        headers={"origin": "https://shop.example", "access-control-request-method": "POST"},
    )
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] in (
        "*",
        "https://shop.example",
    )
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["events"] == 2 and health["requests"] == 2
    # only the two acknowledged requests wrote files
    assert len(list((data_dir / "landing" / "clickstream").glob("*/*.jsonl.gz"))) == 2
