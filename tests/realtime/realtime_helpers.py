"""Real servers on loopback for the near-real-time tests: started here, always stopped by pid."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from deltalake import DeltaTable

PROJECT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Stop one process we started, by its pid; escalate to SIGKILL."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


class Server:
    """``python -m lakehouse.realtime.serve <args>`` as a child process with its log in a file."""

    def __init__(self, args: list[str], data_dir: Path, log: Path) -> None:
        self.args, self.data_dir, self.log = args, data_dir, log
        self.proc: subprocess.Popen[Any] | None = None

    def start(self) -> Server:
        env = {**os.environ, "BEACON_DATA_DIR": str(self.data_dir)}
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lakehouse.realtime.serve", *self.args],
                cwd=PROJECT,
                env=env,
                stdout=fh,
                stderr=fh,
            )
        return self

    def kill(self) -> None:
        if self.proc is not None:
            stop(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Factory of servers; every one started is stopped at teardown."""
    started: list[Server] = []

    def make(args: list[str], data_dir: Path) -> Server:
        s = Server(args, data_dir, tmp_path / f"server-{len(started)}.log")
        started.append(s)
        return s

    yield make
    for s in started:
        s.kill()


def wait_http(url: str, proc: subprocess.Popen[Any] | None, timeout: float = START_TIMEOUT) -> None:
    def up() -> bool:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    assert wait_until(up, timeout, 0.1), f"{url} not up within {timeout}s"


class Mosquitto:
    """A Mosquitto broker on a free loopback port with persistence in a temp folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        self.conf = root / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            # started as root, Mosquitto would switch to user "mosquitto", who cannot write here
            f"user {getpass.getuser()}\n"
            "persistence true\n"
            f"persistence_location {root}/\n"
            "autosave_interval 1\n"
            "max_inflight_messages 100\n"
            "max_queued_messages 100000\n"
        )
        self.proc: subprocess.Popen[Any] | None = None

    def start(self) -> Mosquitto:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        with (self.root / "broker.log").open("ab") as fh:
            self.proc = subprocess.Popen([binary, "-c", str(self.conf)], stdout=fh, stderr=fh)

        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        assert wait_until(listening, 10.0), (self.root / "broker.log").read_text()
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        if os.environ.get("CI"):  # CI installs it (.ci/run): never pass there by skipping
            pytest.fail("mosquitto is not installed: .ci/run should have installed it")
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    broker = Mosquitto(tmp_path / "broker").start()
    try:
        yield broker
    finally:
        broker.stop()


def event(i: int, now: dt.datetime | None = None, **over: Any) -> dict[str, Any]:
    """A valid add_to_cart event in our contract."""
    now = now or dt.datetime.now(dt.UTC)
    rec = {
        "event_id": f"e-{uuid.uuid4().hex}",
        "event_type": "add_to_cart",
        "user_id": f"u{i % 7:06d}",
        "anonymous_id": f"a-{i % 7:06x}",
        "occurred_at": now.isoformat(timespec="milliseconds"),
        "product_id": f"sku-{i % 13:04d}",
        "category": "kitchen",
        "price": 12.5,
        "quantity": 1,
        "currency": "EUR",
        "consent_analytics": True,
        "consent_personalization": True,
    }
    rec.update(over)
    return rec


def read_delta(path: Path, columns: list[str] | None = None) -> pl.DataFrame:
    if not (path / "_delta_log").exists():
        return pl.DataFrame()
    return pl.from_arrow(DeltaTable(str(path)).to_pyarrow_table(columns=columns))  # type: ignore[return-value]


def reading(i: int, now: dt.datetime | None = None) -> tuple[str, dict[str, Any]]:
    """(topic, payload) of a valid CO2 reading."""
    now = now or dt.datetime.now(dt.UTC)
    payload = {
        "reading_id": f"r-{uuid.uuid4().hex}",
        "device_id": "co2_sensor-3fa9c1",
        "value": 400.0 + i,
        "unit": "ppm",
        "occurred_at": now.isoformat(timespec="milliseconds"),
        "user_id": f"u{i % 5:06d}",
    }
    return f"beacon/h{i % 3:04d}/kitchen/co2", payload


class Publisher:
    """A QoS 1 publisher: ``publish`` returns once the broker acknowledged (PUBACK)."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        import json

        info = self.client.publish(topic, json.dumps(payload), qos=1)
        info.wait_for_publish(timeout=10)
        assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def landed_file_ids(landing: Path, source: str = "sensors", key: str = "reading_id") -> pl.Series:
    """Every key written to landing files so far (with repeats)."""
    files = sorted((landing / source).glob("*/*.csv.gz"))
    if not files:
        return pl.Series(key, [], dtype=pl.String)
    return pl.concat([pl.read_csv(f, infer_schema=False).select(key) for f in files])[key]


def publish_marts(marts: Path, key: str, version: str, recs: dict[str, list[str]]) -> None:
    """A small published ``marts.duckdb`` (swapped in atomically, like ``lakehouse.publish``)."""
    import duckdb

    from lakehouse.pseudonymise import pseudonymise_value

    rows = [
        (pseudonymise_value(u, key), item, r + 1, version)
        for u, items in recs.items()
        for r, item in enumerate(items)
    ]
    tmp = marts.with_name(f".{uuid.uuid4().hex}.duckdb")
    con = duckdb.connect(str(tmp))
    try:
        con.execute("CREATE SCHEMA scores")
        con.execute("CREATE SCHEMA _beacon")
        con.execute(
            "CREATE TABLE scores.user_recommendations (user_id VARCHAR, item_id VARCHAR, rank INT, model_version VARCHAR)"
        )
        con.executemany("INSERT INTO scores.user_recommendations VALUES (?, ?, ?, ?)", rows)
        con.execute(
            "CREATE TABLE main.mart_product_funnel AS SELECT * FROM (VALUES "
            "('sku-1', 'kitchen', 50, 500), ('sku-2', 'books', 40, 400), ('sku-3', 'garden', 30, 300), "
            "('sku-4', 'books', 20, 200), ('sku-5', 'toys', 10, 100), ('sku-6', 'garden', 5, 50)) "
            "t(product_id, category, purchase_lines, views)"
        )
        con.execute(
            "CREATE TABLE main.mart_category_preferences AS SELECT * FROM (VALUES "
            f"('{pseudonymise_value('u8', key)}', 'toys', 1)) t(user_id, category, category_rank)"
        )
        con.execute("CREATE TABLE _beacon.publication AS SELECT now() AS published_at")
    finally:
        con.close()
    marts.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, marts)
