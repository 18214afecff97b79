"""MQTT ingestion against a real Mosquitto: restarts of the subscriber or the broker lose no reading."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from realtime_helpers import Publisher, landed_file_ids, read_delta, reading, wait_until

from lakehouse.config import paths
from lakehouse.landing import land
from lakehouse.realtime.mqtt_subscriber import parse_topic, reading_from_message, topic_filter

pytestmark = pytest.mark.services


def test_topic_pattern_fills_fields_and_wins_over_the_payload() -> None:
    pattern = "beacon/{home_id}/{room}/{sensor_type}"
    assert topic_filter(pattern) == "beacon/+/+/+"
    assert parse_topic(pattern, "beacon/h1/kitchen/co2") == {
        "home_id": "h1",
        "room": "kitchen",
        "sensor_type": "co2",
    }
    assert parse_topic(pattern, "other/h1/kitchen/co2") is None
    rec, problem = reading_from_message(pattern, "beacon/h1/kitchen/co2", b'{"room": "attic", "value": 1}')
    assert problem is None and rec["room"] == "kitchen" and rec["value"] == 1
    rec, problem = reading_from_message(pattern, "beacon/h1/kitchen/co2", b"42")
    assert problem == "payload is not a JSON object" and rec == {
        "home_id": "h1",
        "room": "kitchen",
        "sensor_type": "co2",
    }


def _subscriber(servers, data_dir: Path, port: int, client_id: str):
    args = [
        "mqtt",
        "--port",
        str(port),
        "--client-id",
        client_id,
        "--flush-seconds",
        "0.2",
        "--max-inflight",
        "100",
    ]
    return servers(args, data_dir)


def _subscribed(server, times: int = 1) -> bool:
    return server.log_text().count('"msg": "subscribed"') >= times


def _assert_bronze_exactly(data_dir: Path, key: str, published: list[str]) -> None:
    report = land(paths(), key)
    assert not report.failed
    bronze = read_delta(data_dir / "delta" / "bronze" / "sensor_readings", ["reading_id", "home_id"])
    assert bronze.height == len(published), "a reading was lost or landed twice"
    assert sorted(bronze["reading_id"].to_list()) == sorted(published)
    assert bronze["home_id"].str.len_chars().unique().to_list() == [64]  # pseudonymised


def test_subscriber_sigkill_and_restart_loses_nothing(
    servers, mosquitto, data_dir: Path, hmac_key: str
) -> None:
    client_id = f"beacon-test-{uuid.uuid4().hex[:6]}"
    sub = _subscriber(servers, data_dir, mosquitto.port, client_id).start()
    assert wait_until(lambda: _subscribed(sub), 20), sub.log_text()
    pub = Publisher(mosquitto.port)
    published: list[str] = []
    try:
        for i in range(60):
            topic, payload = reading(i)
            pub.publish(topic, payload)
            published.append(payload["reading_id"])
            if i == 30:
                sub.kill()  # readings 0..30 are partly written, partly acked, partly neither
        for i in range(60, 90):  # while the subscriber is down: queued by the broker for the session
            topic, payload = reading(i)
            pub.publish(topic, payload)
            published.append(payload["reading_id"])
        sub = _subscriber(servers, data_dir, mosquitto.port, client_id).start()
        landing = data_dir / "landing"
        assert wait_until(lambda: set(published) <= set(landed_file_ids(landing).to_list()), 20), (
            sub.log_text()
        )
    finally:
        pub.close()
        sub.stop()
    _assert_bronze_exactly(data_dir, hmac_key, published)


def test_broker_restart_loses_nothing(servers, mosquitto, data_dir: Path, hmac_key: str) -> None:
    sub = _subscriber(servers, data_dir, mosquitto.port, f"beacon-test-{uuid.uuid4().hex[:6]}").start()
    assert wait_until(lambda: _subscribed(sub), 20), sub.log_text()
    published: list[str] = []
    for phase in range(2):
        pub = Publisher(mosquitto.port)
        try:
            for i in range(30):
                topic, payload = reading(phase * 100 + i)
                pub.publish(topic, payload)
                published.append(payload["reading_id"])
        finally:
            pub.close()
        if phase == 0:
            mosquitto.stop()
            mosquitto.start()
            assert wait_until(lambda: _subscribed(sub, 2), 20), sub.log_text()
    landing = data_dir / "landing"
    try:
        assert wait_until(lambda: set(published) <= set(landed_file_ids(landing).to_list()), 20), (
            sub.log_text()
        )
    finally:
        sub.stop()
    assert '"session_present": true' in sub.log_text()  # the broker kept the session across its restart
    _assert_bronze_exactly(data_dir, hmac_key, published)
