"""End-to-end freshness: ack at the collector / PUBACK at the broker -> queryable in bronze.

Starts a collector (``beacon serve collector``), Mosquitto and ``beacon serve mqtt`` on loopback in
a temp data dir, then for ``--ticks`` ticks of ``--interval`` seconds (default 60, the production
default) posts events and publishes readings at random moments while a loop plays the Dagster
sensor: every interval it evaluates ``realtime_landing_sensor`` and executes the requested bronze
landing run in process. Each item's latency = end of the run that made it queryable - its ack.
Prints the distribution (min, p50, p90, max) per source, and the landing run durations.

Usage: ``python bench/bench_freshness.py [--interval 60] [--ticks 3] [--rate 2]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"port {port} did not open")


def quantiles(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    if not xs:
        return {}
    return {
        "n": len(xs),
        "min_s": round(xs[0], 2),
        "p50_s": round(statistics.median(xs), 2),
        "p90_s": round(xs[min(len(xs) - 1, int(0.9 * len(xs)))], 2),
        "max_s": round(xs[-1], 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--interval", type=int, default=60)
    ap.add_argument("--ticks", type=int, default=3)
    ap.add_argument("--rate", type=float, default=2.0, help="items per second per source")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="beacon-bench-fresh-"))
    os.environ["BEACON_DATA_DIR"] = str(root / "data")
    os.environ.setdefault("BEACON_HMAC_KEY", "bench-key-0123456789abcdef")
    os.environ.setdefault("DAGSTER_HOME", str(root / "dagster"))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen] = []
    try:
        import dagster as dg
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from lakehouse import storage
        from orchestration.assets import bronze, realtime
        from orchestration.resources import LakehouseResource, PseudonymKeyResource

        broker_port, col_port = free_port(), free_port()
        (root / "broker").mkdir()
        conf = root / "broker" / "mosquitto.conf"
        import getpass

        conf.write_text(
            f"listener {broker_port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n"
            f"persistence true\npersistence_location {root}/broker/\n"
        )
        procs.append(subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)]))
        serve = [sys.executable, "-m", "lakehouse.realtime.serve"]
        procs.append(subprocess.Popen([*serve, "collector", "--port", str(col_port)], cwd=ROOT))
        procs.append(subprocess.Popen([*serve, "mqtt", "--port", str(broker_port)], cwd=ROOT))
        wait_port(broker_port)
        wait_port(col_port)
        time.sleep(3)  # subscriber session up

        acks: dict[str, tuple[str, float]] = {}  # id -> (source, ack time)
        stop = threading.Event()
        lock = threading.Lock()

        def producer() -> None:
            pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex[:6]}")
            pub.connect("127.0.0.1", broker_port)
            pub.loop_start()
            rnd = random.Random(7)
            with httpx.Client(timeout=10) as http:
                while not stop.is_set():
                    now = dt.datetime.now(dt.UTC)
                    eid, rid = f"e-{uuid.uuid4().hex}", f"r-{uuid.uuid4().hex}"
                    ev = {
                        "event_id": eid, "event_type": "page_view", "anonymous_id": "a-1",
                        "occurred_at": now.isoformat(), "page_url": "https://shop.example/",
                        "consent_analytics": True, "consent_personalization": True,
                    }  # fmt: skip
                    http.post(f"http://127.0.0.1:{col_port}/v1/events", json=ev).raise_for_status()
                    with lock:
                        acks[eid] = ("collector", time.monotonic())
                    reading = {
                        "reading_id": rid, "device_id": "co2_sensor-000001", "value": 500.0, "unit": "ppm",
                        "occurred_at": now.isoformat(),
                    }  # fmt: skip
                    info = pub.publish("beacon/h1/kitchen/co2", json.dumps(reading), qos=1)
                    info.wait_for_publish(10)
                    with lock:
                        acks[rid] = ("mqtt", time.monotonic())
                    stop.wait(rnd.expovariate(args.rate))
            pub.disconnect()
            pub.loop_stop()

        resources = {"lakehouse": LakehouseResource(), "pseudonym_key": PseudonymKeyResource()}
        defs = dg.Definitions.merge(dg.Definitions(resources=resources), bronze.defs, realtime.defs)
        job = defs.resolve_job_def("bronze_landing_job")
        instance = dg.DagsterInstance.ephemeral()
        landed_at: dict[str, float] = {}
        runs: list[float] = []
        thread = threading.Thread(target=producer)
        thread.start()
        for _ in range(args.ticks):
            time.sleep(args.interval)
            req = realtime.micro_batch_run_request(LakehouseResource())
            if req is None:
                continue
            t0 = time.monotonic()
            assert job.execute_in_process(instance=instance, tags=req.tags).success
            done = time.monotonic()
            runs.append(done - t0)
            for table, key in (("clickstream_events", "event_id"), ("sensor_readings", "reading_id")):
                path = root / "data" / "delta" / "bronze" / table
                ids = storage.read_table(path, columns=[key]).column(key).to_pylist()
                for i in ids:
                    landed_at.setdefault(i, done)
        stop.set()
        thread.join(30)
        lat: dict[str, list[float]] = {"collector": [], "mqtt": []}
        for i, (source, t) in acks.items():
            if i in landed_at:
                lat[source].append(landed_at[i] - t)
        print(
            json.dumps(
                {
                    "interval_s": args.interval,
                    "ticks": args.ticks,
                    "collector": quantiles(lat["collector"]),
                    "mqtt": quantiles(lat["mqtt"]),
                    "landing_run_s": quantiles(runs),
                    "not_yet_landed_at_end": sum(1 for i in acks if i not in landed_at),
                },
                indent=2,
            )
        )
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                p.wait(10)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
