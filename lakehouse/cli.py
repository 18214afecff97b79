"""The ``beacon`` command: what is not a Dagster asset (generating data, the demo, erasure, servers).

Sub-commands import their implementation lazily so ``beacon --help`` stays instant.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from lakehouse.config import paths


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-05") from exc


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive whole number")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beacon", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a realistic, deterministic data set of landing files")
    gen.add_argument(
        "--out", type=Path, default=None, help="landing folder (default: $BEACON_DATA_DIR/landing)"
    )
    gen.add_argument(
        "--truth",
        type=Path,
        default=None,
        help="ground-truth folder, never read by the pipeline (default: <out>/../truth)",
    )
    gen.add_argument("--users", type=_positive, default=2000)
    gen.add_argument("--homes", type=int, default=50)
    gen.add_argument("--days", type=_positive, default=60)
    gen.add_argument("--start", type=_date, default=dt.date(2026, 1, 1))
    gen.add_argument("--seed", type=int, default=7)

    demo = sub.add_parser("demo", help="generate the demo data set and materialise every asset")
    demo.add_argument("--users", type=_positive, default=2000)
    demo.add_argument("--homes", type=int, default=50)
    demo.add_argument("--days", type=_positive, default=60)
    demo.add_argument("--seed", type=int, default=7)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "generate":
        from lakehouse.generator import generate

        out = args.out or paths().landing
        truth = args.truth or out.parent / "truth"
        summary = generate(
            out=out,
            truth=truth,
            users=args.users,
            homes=args.homes,
            days=args.days,
            start=args.start,
            seed=args.seed,
        )
        print(summary)
        return 0
    if args.command == "demo":
        from orchestration.demo import run_demo

        return run_demo(users=args.users, homes=args.homes, days=args.days, seed=args.seed)
    return 2


if __name__ == "__main__":
    sys.exit(main())
