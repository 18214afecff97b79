"""Benchmark ``beacon generate``: events (and readings) per second and peak memory at two sizes.

Each size runs in its own Python process so its peak resident memory (``ru_maxrss``) is its
own; everything is written under a temporary directory that is removed afterwards. Peak
memory should stay nearly flat from ~1M to ~5M events, because the generator streams day by
day. Run: ``.venv/bin/python bench/bench_generator.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap

#: (label, users, homes, days): ~1M and ~5M events, then the demo's smart homes on their own.
SIZES = (
    ("~1M events", 2_800, 0, 60),
    ("~5M events", 14_000, 0, 60),
    ("50 homes x 60 days", 100, 50, 60),
)

CHILD = textwrap.dedent(
    """
    import datetime as dt, json, resource, sys, time
    from pathlib import Path
    from lakehouse.generator import generate

    root, users, homes, days = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    began = time.perf_counter()
    s = generate(out=root / "landing", truth=root / "truth", users=users, homes=homes, days=days,
                 start=dt.date(2026, 1, 1), seed=7)
    seconds = time.perf_counter() - began
    size = sum(p.stat().st_size for p in (root / "landing").rglob("*.gz"))
    print(json.dumps({"events": s.events, "lines": s.event_lines, "readings": s.readings, "seconds": seconds,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "gzip_mib": size / 2**20}))
    """
)


def run(users: int, homes: int, days: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="beacon-bench-gen-") as tmp:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, tmp, str(users), str(homes), str(days)],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    print(
        f"{'size':<20} {'users':>7} {'homes':>5} {'days':>4} {'events':>10} {'readings':>10} {'seconds':>8} "
        f"{'events/s':>10} {'readings/s':>10} {'peak RSS':>9} {'gzip':>8}"
    )
    for label, users, homes, days in SIZES:
        r = run(users, homes, days)
        print(
            f"{label:<20} {users:>7} {homes:>5} {days:>4} {r['events']:>10,} {r['readings']:>10,} "
            f"{r['seconds']:>8.1f} {r['events'] / r['seconds']:>10,.0f} {r['readings'] / r['seconds']:>10,.0f} "
            f"{r['peak_rss_mib']:>6.0f} MiB {r['gzip_mib']:>5.0f} MiB",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
