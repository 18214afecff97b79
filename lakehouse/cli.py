"""The ``beacon`` command: what is not a Dagster asset (generating data, the demo, erasure, servers).

Sub-commands import their implementation lazily so ``beacon --help`` stays instant.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from lakehouse.config import paths
from lakehouse.realtime.serve import register_serve


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

    erase = sub.add_parser(
        "erase",
        help="erase one person from every place Beacon writes (irreversible; needs --yes-i-am-sure)",
        description="Erase one person (by the RAW user id the source systems send) from bronze, quarantine, "
        "landing files, the dbt build, the published marts.duckdb and its rollback copy, truth, and flag "
        "the MLflow models trained on them for retraining. Prints the audit receipt (no identifier).",
    )
    erase.add_argument("--user", required=True, help="the raw user id, as in the events (e.g. u000042)")
    erase.add_argument(
        "--yes-i-am-sure",
        dest="confirm",
        action="store_true",
        help="confirm: the data is deleted, also from time travel and the previous publication",
    )
    register_serve(sub)  # beacon serve collector | mqtt | api
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
    if args.command == "erase":
        return _erase(args.user, args.confirm)
    if args.command == "serve":
        return int(args.serve_func(args))
    return 2


def _erase(user: str, confirm: bool) -> int:
    """``beacon erase``: refuse without confirmation; print the receipt and what was removed where."""
    import json

    if not confirm:
        print(
            "beacon erase: refusing without --yes-i-am-sure (erasure is irreversible: it also removes "
            "time travel, the previous publication and the raw landing lines)",
            file=sys.stderr,
        )
        return 2
    from lakehouse.privacy.erase import erase_user
    from lakehouse.pseudonymise import resolve_key

    report = erase_user(user, resolve_key(), paths(), True, log=lambda m: print(f"[erase] {m}"))
    print(
        json.dumps(
            {
                "request_id": report.receipt.request_id,
                "receipt_salt": report.receipt.salt,
                "rows_removed": report.summary(),
                "models_flagged_for_retraining": report.flagged_models,
                "note": "keep request_id and receipt_salt: together with the user id they prove this "
                "request in the audit table delta/privacy/erasure_audit, which holds neither",
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
