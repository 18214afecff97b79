"""How well the occupancy rule of ``fct_room_occupancy_hourly`` recovers true occupancy.

Generates a data set (``lakehouse.generator``), lands it (``lakehouse.landing``), builds the
smart-home dbt graph into a private data dir and compares each inferred room-hour with the
generator's ``truth/occupancy.parquet``; prints precision, recall and accuracy overall, per room
and per signal (motion, presence, CO2, light). ``--source fixture`` measures on the planted test
fixture instead (tests/smart_home), which is also the fallback when landing fails.

The comparison runs inside DuckDB: the truth's raw home ids are pseudonymised there with the
landing key (``hmac_sql``), so the script never loads the hourly grid into Python.

    python bench/report_occupancy_accuracy.py --homes 30 --days 21
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
from dagster_dbt import DbtCliResource

from lakehouse.config import PROJECT_ROOT, DataPaths, paths
from lakehouse.pseudonymise import hmac_sql

DBT_PROJECT = PROJECT_ROOT / "dbt_project"
SELECTOR = "path:models/staging/smart_home+"
BENCH_KEY = "bench-occupancy-key-0123456789abcdef"
SIGNALS = ("motion_signal", "presence_signal", "co2_signal", "light_signal")


@dataclass(frozen=True)
class Scores:
    """Confusion-matrix figures of one slice of room-hours."""

    rows: int
    precision: float
    recall: float
    accuracy: float
    occupied_share: float


@dataclass(frozen=True)
class AccuracyReport:
    """Overall, per-room and per-signal scores, plus how much of the truth the grid covers."""

    truth_rows: int
    compared_rows: int
    overall: Scores
    by_room: dict[str, Scores]
    by_signal: dict[str, Scores]

    @property
    def coverage(self) -> float:
        return self.compared_rows / self.truth_rows if self.truth_rows else 0.0


def _scores(row: tuple[int, int, int, int]) -> Scores:
    tp, fp, fn, tn = (int(x or 0) for x in row)
    n = tp + fp + fn + tn
    return Scores(
        rows=n,
        precision=tp / (tp + fp) if tp + fp else 0.0,
        recall=tp / (tp + fn) if tp + fn else 0.0,
        accuracy=(tp + tn) / n if n else 0.0,
        occupied_share=(tp + fn) / n if n else 0.0,
    )


def _confusion(flag: str) -> str:
    return (
        f"sum(case when occupied and {flag} then 1 else 0 end), "
        f"sum(case when not occupied and {flag} then 1 else 0 end), "
        f"sum(case when occupied and not {flag} then 1 else 0 end), "
        f"sum(case when not occupied and not {flag} then 1 else 0 end)"
    )


def occupancy_accuracy(build_db: Path, truth_parquet: Path, key: str) -> AccuracyReport:
    """Compare ``marts.fct_room_occupancy_hourly`` of ``build_db`` with the generator's truth.

    ``truth_parquet`` holds raw home ids (home_id, room, hour_start UTC, occupied); they are
    pseudonymised with ``key`` (the landing key) to meet the marts' pseudonyms.
    """
    con = duckdb.connect()
    try:
        con.execute(f"attach '{build_db}' as build (read_only)")
        con.execute(f"""
            create temp table truth as
            select {hmac_sql("home_id", key)} as home_id, room,
                   timezone('UTC', hour_start) as hour_start, occupied
            from read_parquet('{truth_parquet}')
        """)
        con.execute("""
            create temp table compared as
            select truth.occupied, inferred.*
            from truth
            inner join build.marts.fct_room_occupancy_hourly as inferred
                on truth.home_id = inferred.home_id and truth.room = inferred.room
               and truth.hour_start = inferred.hour_start
        """)
        truth_rows = con.execute("select count(*) from truth").fetchone()[0]
        compared_rows = con.execute("select count(*) from compared").fetchone()[0]
        overall = _scores(con.execute(f"select {_confusion('is_occupied')} from compared").fetchone())
        by_room = {
            room: _scores(tuple(rest))
            for room, *rest in con.execute(
                f"select room, {_confusion('is_occupied')} from compared group by room order by room"
            ).fetchall()
        }
        by_signal = {
            s: _scores(con.execute(f"select {_confusion(s)} from compared").fetchone()) for s in SIGNALS
        }
    finally:
        con.close()
    return AccuracyReport(truth_rows, compared_rows, overall, by_room, by_signal)


def build_marts(data: DataPaths, reference_date: dt.date, target: Path) -> bool:
    """``dbt build`` of the smart-home graph over ``data`` (a subprocess through dagster-dbt)."""
    data.build.mkdir(parents=True, exist_ok=True)
    dbt = DbtCliResource(
        project_dir=str(DBT_PROJECT),
        profiles_dir=str(DBT_PROJECT),
        dbt_executable=str(Path(sys.executable).parent / "dbt"),
    )
    args = [
        "build",
        "--select",
        SELECTOR,
        "--target-path",
        str(target),
        "--log-path",
        str(target / "logs"),
        "--vars",
        json.dumps({"reference_date": reference_date.isoformat()}),
    ]
    old = os.environ.get("BEACON_DATA_DIR")
    os.environ["BEACON_DATA_DIR"] = str(data.root)
    try:
        invocation = dbt.cli(args, raise_on_error=False, target_path=target)
        invocation.wait()
        return invocation.is_successful()
    finally:
        if old is None:
            os.environ.pop("BEACON_DATA_DIR", None)
        else:
            os.environ["BEACON_DATA_DIR"] = old


def generated_data(
    data: DataPaths, users: int, homes: int, days: int, start: dt.date, seed: int, key: str
) -> Path:
    """Generate and land a data set; returns the truth occupancy file."""
    from lakehouse.generator.run import generate
    from lakehouse.landing.engine import land

    generate(data.landing, data.truth, users=users, homes=homes, days=days, start=start, seed=seed)
    land(data, key)
    return data.truth / "occupancy.parquet"


def fixture_data(data: DataPaths, key: str) -> tuple[Path, dt.date]:
    """Write the planted test fixture and its truth (in the generator's truth layout)."""
    sys.path.insert(0, str(PROJECT_ROOT / "tests" / "smart_home"))
    import polars as pl
    import smart_home_fixture as fx

    fx.build(data.root, key)
    truth = fx.true_occupancy().select(pl.col("home").alias("home_id"), "room", "hour_start", "occupied")
    data.truth.mkdir(parents=True, exist_ok=True)
    truth.write_parquet(data.truth / "occupancy.parquet")
    return data.truth / "occupancy.parquet", fx.REFERENCE_DATE


def _print(report: AccuracyReport, source: str, seconds: float) -> None:
    o = report.overall
    print(
        f"occupancy accuracy ({source}): {report.compared_rows:,} room-hours compared "
        f"({report.coverage:.1%} of {report.truth_rows:,} true room-hours), {seconds:.0f} s"
    )
    print(
        f"  overall     precision {o.precision:.3f}  recall {o.recall:.3f}  accuracy {o.accuracy:.3f}  "
        f"(occupied share {o.occupied_share:.3f})"
    )
    for name, s in report.by_room.items():
        print(
            f"  room {name:<12} precision {s.precision:.3f}  recall {s.recall:.3f}  accuracy {s.accuracy:.3f}"
        )
    for name, s in report.by_signal.items():
        print(
            f"  alone {name:<15} precision {s.precision:.3f}  recall {s.recall:.3f}  accuracy {s.accuracy:.3f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("generated", "fixture"), default="generated")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--homes", type=int, default=30)
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2026, 1, 5))
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: a fresh temporary folder")
    parser.add_argument("--json", action="store_true", help="also print the report as JSON")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    root = args.data_dir or Path(tempfile.mkdtemp(prefix="beacon-occupancy-")) / "data"
    data = paths(root)
    data.root.mkdir(parents=True, exist_ok=True)
    source = args.source
    if source == "generated":
        try:
            truth = generated_data(data, args.users, args.homes, args.days, args.start, args.seed, BENCH_KEY)
            reference = args.start + dt.timedelta(days=args.days)
        except Exception as exc:  # landing or the generator not usable here: say so, measure the fixture
            print(f"generated data unavailable ({type(exc).__name__}: {exc}); measuring on the test fixture")
            source = "fixture"
            data = paths(root.parent / "fixture-data")
            data.root.mkdir(parents=True, exist_ok=True)
    if source == "fixture":
        truth, reference = fixture_data(data, BENCH_KEY)
    if not build_marts(data, reference, data.root.parent / "dbt-target"):
        print("dbt build failed: see the dbt logs under", data.root.parent / "dbt-target" / "logs")
        return 1
    report = occupancy_accuracy(data.build / "marts_build.duckdb", truth, BENCH_KEY)
    _print(report, source, time.perf_counter() - began)
    if args.json:
        print(json.dumps({"source": source, **asdict(report), "coverage": report.coverage}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
