"""Abandoned-cart triggers on real Delta tables, with a local HTTP receiver for the webhook."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from lakehouse.config import paths
from lakehouse.realtime.cart_triggers import (
    CartRules,
    deliver,
    published_recommender,
    read_deliveries,
    read_outbox,
    record_triggers,
)

NOW = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)
TS = pl.Datetime("us", "UTC")


def _ev(
    user: str, kind: str, minutes_ago: float, product: str | None = None, qty: int = 1, consent: bool = True
):
    return {
        "user_id": user,
        "event_type": kind,
        "occurred_at": NOW - dt.timedelta(minutes=minutes_ago),
        "product_id": product,
        "category": "kitchen" if product else None,
        "price": 10.0 if product else None,
        "quantity": qty if product else None,
        "currency": "EUR" if product else None,
        "consent_personalization": consent,
    }


def _events(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows).with_columns(pl.col("occurred_at").cast(TS), pl.col("quantity").cast(pl.Int32))


BASE = [
    # u1: two items, one removed again -> abandoned with sku-a x2
    _ev("u1", "add_to_cart", 50, "sku-a", 2),
    _ev("u1", "add_to_cart", 45, "sku-b"),
    _ev("u1", "remove_from_cart", 40, "sku-b"),
    # u2: checked out -> no trigger
    _ev("u2", "add_to_cart", 60, "sku-a"),
    _ev("u2", "checkout_started", 50),
    # u3: idle only 10 minutes -> not yet
    _ev("u3", "add_to_cart", 10, "sku-c"),
    # u4: no personalisation consent on the latest event -> never
    _ev("u4", "add_to_cart", 90, "sku-a"),
    _ev("u4", "page_view", 5, consent=False),
    # u5: bought, then a new cart abandoned -> one trigger for the new cart
    _ev("u5", "add_to_cart", 200, "sku-a"),
    _ev("u5", "purchase", 190, "sku-a"),
    _ev("u5", "add_to_cart", 35, "sku-d", 3),
    # u6: everything removed -> empty cart, no trigger
    _ev("u6", "add_to_cart", 60, "sku-a"),
    _ev("u6", "remove_from_cart", 55, "sku-a"),
]


class _Receiver(BaseHTTPRequestHandler):
    calls: list[dict[str, Any]] = []
    fail_first: int = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        type(self).calls.append({"body": body, "key": self.headers["idempotency-key"]})
        failing = type(self).fail_first > 0
        type(self).fail_first -= 1
        self.send_response(503 if failing else 200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.calls, _Receiver.fail_first = [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _published_marts(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA scores")
    con.execute(
        "CREATE TABLE scores.user_recommendations AS SELECT * FROM (VALUES "
        "('u1', 'sku-a', 1, '7'), ('u1', 'sku-x', 2, '7'), ('u1', 'sku-y', 3, '7')) "
        "t(user_id, item_id, rank, model_version)"
    )
    con.execute(
        "CREATE TABLE main.mart_product_funnel AS SELECT * FROM (VALUES "
        "('sku-k1', 'kitchen', 5, 100), ('sku-k2', 'kitchen', 9, 50), ('sku-d', 'kitchen', 99, 999)) "
        "t(product_id, category, purchase_lines, views)"
    )
    con.close()


@pytest.mark.services
def test_one_trigger_per_abandoned_cart_with_webhook_retries(data_dir: Path, receiver: str) -> None:
    p = paths()
    _published_marts(p.marts)
    rules = CartRules()
    recommend = published_recommender(p.marts)
    first = record_triggers(p, _events(BASE), NOW, rules, recommend, "run-1")
    assert sorted(first["user_id"].to_list()) == ["u1", "u5"]
    u1 = first.filter(pl.col("user_id") == "u1").row(0, named=True)
    assert u1["items"] == [{"product_id": "sku-a", "category": "kitchen", "quantity": 2, "price": 10.0}]
    assert u1["value"] == 20.0 and u1["item_count"] == 2 and u1["currency"] == "EUR"
    # champion items minus the cart first, then the category's best sellers up to k; model version carried
    assert u1["recommended_items"] == ["sku-x", "sku-y", "sku-d", "sku-k2", "sku-k1"]
    assert u1["recommendation_source"] == "model"
    assert u1["model_version"] == "7"
    u5 = first.filter(pl.col("user_id") == "u5").row(0, named=True)
    assert u5["items"][0]["product_id"] == "sku-d" and u5["value"] == 30.0
    # cold start: most bought in the cart's category, minus the cart
    assert (
        u5["recommended_items"] == ["sku-k2", "sku-k1"]
        and u5["recommendation_source"] == "popular_in_category"
    )

    # later: u1 adds one more item (same cart), u3's cart becomes abandoned
    later = NOW + dt.timedelta(minutes=60)
    more = [*BASE, _ev("u1", "add_to_cart", -5, "sku-z")]
    second = record_triggers(p, _events(more), later, rules, recommend, "run-2")
    assert second["user_id"].to_list() == ["u3"]
    third = record_triggers(p, _events(more), later + dt.timedelta(minutes=5), rules, recommend, "run-3")
    assert third.height == 0
    outbox = read_outbox(p)
    assert outbox.height == 3 and outbox["cart_id"].n_unique() == 3

    # webhook: first two calls fail (503) and are retried; every trigger delivered once, then nothing pending
    _Receiver.fail_first = 2
    outcomes = deliver(p, receiver, max_attempts=4, backoff_seconds=0.01)
    assert outcomes["status"].to_list() == ["delivered"] * 3
    assert outcomes["attempts"].sum() == 5
    delivered = {c["key"] for c in _Receiver.calls}
    assert delivered == set(outbox["cart_id"].to_list())
    assert all(c["body"]["type"] == "abandoned_cart" for c in _Receiver.calls)
    assert deliver(p, receiver).height == 0
    assert read_deliveries(p).filter(pl.col("status") == "delivered").height == 3


@pytest.mark.services
def test_unreachable_webhook_is_recorded_and_retried_next_run(data_dir: Path, receiver: str) -> None:
    p = paths()
    record_triggers(p, _events(BASE), NOW, CartRules(), published_recommender(p.marts), "run-1")
    failed = deliver(
        p, "http://127.0.0.1:9/nowhere", max_attempts=2, backoff_seconds=0.01, timeout_seconds=0.5
    )
    assert failed["status"].to_list() == ["failed", "failed"] and failed["http_status"].is_null().all()
    ok = deliver(p, receiver, max_attempts=1)
    assert ok["status"].to_list() == ["delivered", "delivered"]
    assert read_outbox(p)["recommended_items"].to_list() == [[], []]  # no published marts yet


@pytest.mark.services
def test_dagster_asset_reads_bronze_and_triggers_once(data_dir: Path, hmac_key: str, receiver: str) -> None:
    import dagster as dg
    from realtime_helpers import event

    from lakehouse.landing import land
    from lakehouse.pseudonymise import pseudonymise_value
    from lakehouse.realtime.collector import Collector, CollectorSettings
    from orchestration.assets.realtime import abandoned_cart_triggers
    from orchestration.resources import LakehouseResource

    p = paths()
    idle = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=40)
    Collector(CollectorSettings(landing=p.landing)).store(
        [
            event(1, idle, user_id="shopper-1", product_id="sku-a"),
            event(2, idle, user_id="shopper-2", product_id="sku-b", consent_personalization=False),
        ]
    )
    land(p, hmac_key)
    config = {
        "ops": {
            "realtime__abandoned_cart_triggers": {
                "config": {"webhook_url": receiver, "webhook_backoff_seconds": 0.01}
            }
        }
    }
    for _ in range(2):  # the second run finds the cart already triggered
        result = dg.materialize(
            [abandoned_cart_triggers], resources={"lakehouse": LakehouseResource()}, run_config=config
        )
        assert result.success
    outbox = read_outbox(p)
    assert outbox["user_id"].to_list() == [pseudonymise_value("shopper-1", hmac_key)]
    assert [c["key"] for c in _Receiver.calls] == outbox["cart_id"].to_list()
