"""Recommendation API latency and throughput on loopback at a fixed concurrency.

Publishes a synthetic ``marts.duckdb`` (``--users`` users x 10 champion items, 2,000 products in
10 categories) into a temp data dir, starts ``beacon serve api`` (uvicorn, one process), warms
every user once (pseudonym cache) and drives ``GET /recommendations/u<random>?k=10`` with ``wrk``
(system package) at ``--connections`` for ``--seconds``; without ``wrk``, a Python thread load
generator (same concurrency; its own overhead is included in the latencies it reports).
Prints requests/s, p50, p90, p99 (ms). Target: p99 < 20 ms for cached users on 2 cores.

Usage: ``python bench/bench_api.py [--users 10000] [--connections 8] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lakehouse.pseudonymise import pseudonymise_value  # noqa: E402

KEY = "bench-key-0123456789abcdef"


def publish(marts: Path, users: int) -> None:
    con = duckdb.connect(str(marts))
    con.execute("CREATE SCHEMA scores")
    con.execute(
        "CREATE TABLE main.mart_product_funnel AS SELECT 'sku-' || i AS product_id, "
        "'cat-' || (i % 10) AS category, (2000 - i) AS purchase_lines, 10 * (2000 - i) AS views "
        "FROM range(2000) t(i)"
    )
    con.execute("CREATE TABLE ids (raw VARCHAR, user_id VARCHAR)")
    con.executemany(
        "INSERT INTO ids VALUES (?, ?)", [(f"u{i}", pseudonymise_value(f"u{i}", KEY)) for i in range(users)]
    )
    con.execute(
        "CREATE TABLE scores.user_recommendations AS SELECT user_id, "
        "'sku-' || ((hash(user_id) + r * 7919) % 2000) AS item_id, r + 1 AS rank, '1' AS model_version "
        "FROM ids, range(10) t(r)"
    )
    con.execute("DROP TABLE ids")
    con.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrk(url: str, users: int, connections: int, seconds: int) -> dict[str, float]:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        f'math.randomseed(7)\nrequest = function() return wrk.format("GET", "/recommendations/u" '
        f'.. math.random(0, {users - 1}) .. "?k=10") end\n'
    )
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    script.unlink()

    def ms(label: str) -> float:
        m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_s": rps,
        "p50_ms": ms("50"),
        "p90_ms": ms("90"),
        "p99_ms": ms("99"),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


def python_load(url: str, users: int, connections: int, seconds: int) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(seed: int) -> None:
        rnd = random.Random(seed)
        mine: list[float] = []
        with httpx.Client(base_url=url, timeout=5) as c:
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                c.get(f"/recommendations/u{rnd.randrange(users)}?k=10").raise_for_status()
                mine.append((time.perf_counter() - t0) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()

    def q(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    return {"requests_per_s": len(latencies) / seconds, "p50_ms": q(0.5), "p90_ms": q(0.9), "p99_ms": q(0.99)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument(
        "--python-load", action="store_true", help="use the Python load generator even if wrk exists"
    )
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="beacon-bench-api-"))
    proc = None
    try:
        publish(root / "marts.duckdb", args.users)
        port = free_port()
        env = {**os.environ, "BEACON_DATA_DIR": str(root), "BEACON_HMAC_KEY": KEY}
        proc = subprocess.Popen(
            [sys.executable, "-m", "lakehouse.realtime.serve", "api", "--port", str(port)], cwd=ROOT, env=env
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).json()["users_scored"] == args.users:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("API did not come up")
            time.sleep(0.2)
        with httpx.Client(base_url=url) as c:  # warm: every user's pseudonym cached
            for i in range(args.users):
                c.get(f"/recommendations/u{i}?k=10").raise_for_status()
        use_wrk = shutil.which("wrk") is not None and not args.python_load
        result = (wrk if use_wrk else python_load)(url, args.users, args.connections, args.seconds)
        print(
            json.dumps(
                {
                    "load_generator": "wrk" if use_wrk else "python-threads",
                    "users": args.users,
                    "connections": args.connections,
                    "seconds": args.seconds,
                    "cpus": os.cpu_count(),
                    **{k: round(v, 3) for k, v in result.items()},
                },
                indent=2,
            )
        )
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
