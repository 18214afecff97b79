"""Kill test: SIGKILL the collector right after acknowledgements; every acked event lands exactly once."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import polars as pl
import pytest
from realtime_helpers import event, free_port, read_delta, wait_http

from lakehouse.config import paths
from lakehouse.landing import land

pytestmark = pytest.mark.services
ROUNDS = 3
SENDERS = 3


def test_acknowledged_events_survive_sigkill_exactly_once(servers, data_dir: Path, hmac_key: str) -> None:
    acked: list[str] = []
    sent_unacked: list[str] = []
    lock = threading.Lock()
    for round_no in range(ROUNDS):
        port = free_port()
        server = servers(["collector", "--port", str(port)], data_dir).start()
        wait_http(f"http://127.0.0.1:{port}/health", server.proc)
        first_ack = threading.Event()

        def sender(seed: int, port: int = port, first_ack: threading.Event = first_ack) -> None:
            with httpx.Client(timeout=5.0) as http:
                for n in range(50):
                    batch = [event(seed * 1000 + n * 10 + j) for j in range(5)]
                    ids = [e["event_id"] for e in batch]
                    try:
                        r = http.post(f"http://127.0.0.1:{port}/v1/events", json=batch)
                    except httpx.HTTPError:
                        with lock:
                            sent_unacked.extend(ids)
                        return
                    with lock:
                        (acked if r.status_code == 200 else sent_unacked).extend(ids)
                    first_ack.set()

        threads = [threading.Thread(target=sender, args=(round_no * 10 + s,)) for s in range(SENDERS)]
        for t in threads:
            t.start()
        assert first_ack.wait(20), server.log_text()
        server.kill()  # SIGKILL while the other senders' requests are in flight
        for t in threads:
            t.join(20)
        assert not any(t.is_alive() for t in threads)

    assert len(acked) >= ROUNDS * 5
    report = land(paths(), hmac_key)
    assert not report.failed
    bronze = read_delta(data_dir / "delta" / "bronze" / "clickstream_events", ["event_id"])
    counts = bronze.group_by("event_id").len()
    assert counts["len"].max() == 1, "an event landed twice"
    landed = set(bronze["event_id"].to_list())
    missing = set(acked) - landed
    assert not missing, f"{len(missing)} acknowledged events lost"
    # whatever was not acknowledged either landed once or not at all; nothing else is in bronze
    assert landed <= set(acked) | set(sent_unacked)
    assert bronze.height == pl.Series(list(landed)).n_unique()
