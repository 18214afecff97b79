"""Recommendation API: champion scores, re-ranking by the last hour, cold start, champion swap."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from realtime_helpers import event, free_port, publish_marts, wait_http, wait_until

from lakehouse.config import paths
from lakehouse.landing import land
from lakehouse.realtime.api import ApiSettings, create_app
from lakehouse.realtime.collector import Collector, CollectorSettings

RECS = {"u1": ["sku-1", "sku-2", "sku-3"]}


def _items(body: dict) -> list[str]:
    return [i["item_id"] for i in body["items"]]


def test_model_rerank_and_cold_start(data_dir: Path, hmac_key: str) -> None:
    p = paths()
    publish_marts(p.marts, hmac_key, "3", RECS)
    now = dt.datetime.now(dt.UTC)
    recent = now - dt.timedelta(minutes=10)
    old = now - dt.timedelta(hours=3)
    Collector(CollectorSettings(landing=p.landing)).store(
        [
            event(1, recent, user_id="u1", product_id="sku-3", category="garden"),
            event(2, old, user_id="u1", product_id="sku-2", category="books", quantity=5),
            event(3, recent, user_id="u9", product_id="sku-4", category="books", event_type="product_view"),
            event(
                4, recent, user_id="u7", product_id="sku-5", category="toys", consent_personalization=False
            ),
        ]
    )
    land(p, hmac_key)
    app = create_app(ApiSettings(paths=p, key=hmac_key), start_threads=False)
    with TestClient(app) as client:
        u1 = client.get("/recommendations/u1", params={"k": 3}).json()
        # the garden cart add of 10 minutes ago lifts sku-3; the 3-hour-old books add does not count
        assert u1["source"] == "model_reranked" and _items(u1) == ["sku-3", "sku-1", "sku-2"]
        assert u1["model_version"] == "3" and u1["user_id"] == "u1"
        assert [i["category"] for i in u1["items"]] == ["garden", "kitchen", "books"]
        assert _items(client.get("/recommendations/u1?k=2").json()) == ["sku-3", "sku-1"]
        # cold start with recent interest: best sellers of that category first, then overall
        u9 = client.get("/recommendations/u9?k=3").json()
        assert u9["source"] == "popular_in_category" and _items(u9) == ["sku-2", "sku-4", "sku-1"]
        assert u9["model_version"] == "3"
        # no consent for personalisation: recent events ignored -> overall best sellers
        assert _items(client.get("/recommendations/u7?k=2").json()) == ["sku-1", "sku-2"]
        # favourite categories from the marts when nothing recent
        assert _items(client.get("/recommendations/u8?k=1").json()) == ["sku-5"]
        assert client.get("/recommendations/u1?k=1000").status_code == 422
        health = client.get("/health").json()
        assert health["status"] == "ok" and health["users_scored"] == 1 and health["recent_users"] == 2


@pytest.mark.services
def test_new_champion_is_served_without_restart(servers, data_dir: Path, hmac_key: str) -> None:
    p = paths()
    publish_marts(p.marts, hmac_key, "1", RECS)
    port = free_port()
    api = servers(["api", "--port", str(port)], data_dir).start()
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/health", api.proc)
    first = httpx.get(f"{url}/recommendations/u1", timeout=5).json()
    assert first["model_version"] == "1" and first["source"] == "model" and _items(first) == RECS["u1"]
    publish_marts(p.marts, hmac_key, "2", {"u1": ["sku-6", "sku-5"]})

    def promoted() -> bool:
        return httpx.get(f"{url}/recommendations/u1", timeout=5).json()["model_version"] == "2"

    assert wait_until(promoted, 10, 0.2), api.log_text()
    assert _items(httpx.get(f"{url}/recommendations/u1", timeout=5).json()) == ["sku-6", "sku-5"]
    assert '"msg": "publication loaded"' in api.log_text()
