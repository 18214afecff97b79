"""Landing throughput and peak memory beside the floor (read + bare ``write_deltalake``).

For each size (default 1M and 5M clickstream events) the script generates a data set with
``beacon generate`` (cached under the work dir), then, each in its own subprocess so peak RSS
is measured per run:

* ``landing``: Beacon's landing of every file (validation, quarantine, de-duplication against
  existing partitions, pseudonymisation, lineage, ledger; partitioned Delta writes);
* ``floor``: the same files read with DuckDB's JSON reader and written with a bare
  ``deltalake.write_deltalake`` (append, no partitioning), in the same day batches.

Usage: ``python bench/bench_landing.py [--sizes 1000000,5000000] [--workdir DIR]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVENTS_PER_USER_DAY = 5.9  # what the generator produces on average (measured)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """User + system CPU of this process (all threads): comparable even on a busy machine."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _generate(target: int, workdir: Path) -> Path:
    """A cached data set of at least ``target`` events."""
    from lakehouse.generator import generate

    days = 8 if target <= 1_000_000 else 16
    users = math.ceil(target * 1.05 / (days * EVENTS_PER_USER_DAY))
    root = workdir / f"events-{target}"
    stamp = root / "params.json"
    params = {"users": users, "days": days, "seed": 7}
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return root
    shutil.rmtree(root, ignore_errors=True)
    began = time.perf_counter()
    generate(
        out=root / "landing",
        truth=root / "truth",
        users=users,
        homes=0,
        days=days,
        start=dt.date(2026, 1, 1),
        seed=7,
    )
    stamp.write_text(json.dumps(params))
    print(f"  generated {target:,}-event data set in {time.perf_counter() - began:.0f} s", flush=True)
    return root


def child_landing(root: Path) -> dict:
    from lakehouse.config import paths
    from lakehouse.landing import land

    shutil.rmtree(root / "delta", ignore_errors=True)
    began, cpu = time.perf_counter(), _cpu_seconds()
    report = land(paths(root), "bench-key-0123456789")
    seconds, cpu = time.perf_counter() - began, _cpu_seconds() - cpu
    t = report.totals()
    return {
        "seconds": seconds,
        "lines": t["lines_read"],
        "rows": t["rows_landed"],
        "files": t["files"],
        "quarantined": t["rows_quarantined"],
        "duplicates": t["duplicates"],
        "cpu_seconds": cpu,
        "peak_rss_mb": _peak_rss_mb(),
    }


def child_floor(root: Path) -> dict:
    import duckdb
    from deltalake import write_deltalake

    target = root / "floor_delta"
    shutil.rmtree(target, ignore_errors=True)
    days = sorted(p for p in (root / "landing" / "clickstream").iterdir() if p.is_dir())
    began, cpu = time.perf_counter(), _cpu_seconds()
    rows = lines = 0
    con = duckdb.connect()
    for day in days:  # one batch per delivery day, like landing's bounded batches
        files = sorted(str(f) for f in day.glob("*.jsonl.gz"))
        table = con.sql(
            f"SELECT * FROM read_json({files}, format='newline_delimited', ignore_errors=true, "
            "union_by_name=true, maximum_object_size=1048576)"
        ).to_arrow_table()
        write_deltalake(str(target), table, mode="append", schema_mode="merge")
        rows += table.num_rows
    seconds, cpu = time.perf_counter() - began, _cpu_seconds() - cpu
    return {
        "seconds": seconds,
        "lines": lines,
        "rows": rows,
        "cpu_seconds": cpu,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _run_child(kind: str, root: Path) -> dict:
    env = {**os.environ, "BEACON_DATA_DIR": str(root)}
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(root)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,5000000")
    parser.add_argument(
        "--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "beacon-bench-landing"
    )
    parser.add_argument("--child", nargs=2, metavar=("KIND", "ROOT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, root = args.child
        result = child_landing(Path(root)) if kind == "landing" else child_floor(Path(root))
        print(json.dumps(result))
        return 0

    sizes = [int(s) for s in args.sizes.split(",")]
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in sizes:
        root = _generate(size, args.workdir)
        landing = _run_child("landing", root)
        floor = _run_child("floor", root)
        rows.append((size, landing, floor))
        print(
            f"  {size:,}: landing {landing['seconds']:.1f} s ({landing['cpu_seconds']:.1f} CPU s), "
            f"floor {floor['seconds']:.1f} s ({floor['cpu_seconds']:.1f} CPU s)",
            flush=True,
        )

    print()
    print(
        f"Landing benchmark ({os.cpu_count()} cores; each run in its own process; events = JSON lines read)"
    )
    header = (
        f"{'target':>10} {'lines read':>11} {'files':>5} | {'landing s':>9} {'CPU s':>6} {'events/s':>9} "
        f"{'peak MB':>8} | {'floor s':>8} {'CPU s':>6} {'events/s':>9} {'peak MB':>8} | {'ratio':>5} {'CPU r':>5}"
    )
    print(header)
    print("-" * len(header))
    for size, landing, floor in rows:
        n = landing["lines"]
        print(
            f"{size:>10,} {n:>11,} {landing['files']:>5} | {landing['seconds']:>9.1f} "
            f"{landing['cpu_seconds']:>6.1f} {n / landing['seconds']:>9,.0f} {landing['peak_rss_mb']:>8,.0f} | "
            f"{floor['seconds']:>8.1f} {floor['cpu_seconds']:>6.1f} {n / floor['seconds']:>9,.0f} "
            f"{floor['peak_rss_mb']:>8,.0f} | {landing['seconds'] / floor['seconds']:>5.2f} "
            f"{landing['cpu_seconds'] / floor['cpu_seconds']:>5.2f}"
        )
    for size, landing, _ in rows:
        print(
            f"  {size:,}: landed {landing['rows']:,}, quarantined {landing['quarantined']:,}, "
            f"duplicates {landing['duplicates']:,}"
        )
    print(
        "ratio = landing time / floor time (target <= 2); CPU r = the same for CPU seconds (user + system, "
        "all threads), the fairer figure when other work shares the machine. Floor: DuckDB "
        "read_json(ignore_errors) + bare write_deltalake per day; it drops bad lines silently, validates "
        "nothing and writes no partitions. Landing: one run, one commit per table, chunks of "
        "$BEACON_LANDING_CHUNK_ROWS records (memory bound)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
