"""Accuracy of the differentially private public metrics at the default epsilon, against exact figures.

Reads the marts of a BUILT lakehouse (``beacon demo`` first; default ``$BEACON_DATA_DIR``), and
for ``--trials`` independent releases (same code path as the published release: contribution
bounding, OpenDP noise, post-processing; the budget ledger is NOT charged: this runs on
generated data, for documentation) compares each public table with the exact, unbounded
figures computed from the same marts. Errors therefore include the bias of contribution
bounding, not only the noise.

    .venv/bin/python bench/report_dp_accuracy.py [--data-dir data] [--trials 20]

Printed per metric: the exact mean for scale, the mean absolute error (MAE), the median relative
error over cells whose exact value is large enough to matter, and the noise scale used.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import uuid

import duckdb
import polars as pl

from lakehouse.config import paths
from lakehouse.privacy.dp_metrics import (
    CONVERSION,
    OCCUPANCY,
    VISITORS,
    DPConfig,
    compute_release,
    default_window,
    exact_tables,
    plan_charges,
)
from lakehouse.publish import build_db_path

#: (table, value column, join keys, cells counted in the relative error: exact value >= this)
METRICS = (
    (VISITORS, "visitors", ["day", "country"], 20.0),
    (CONVERSION, "conversion_rate", ["day"], 0.01),
    (CONVERSION, "sessions", ["day"], 20.0),
    (OCCUPANCY, "occupancy_rate", ["hour_of_week"], 0.05),
)


def errors(
    noisy: pl.DataFrame, exact: pl.DataFrame, column: str, keys: list[str], floor: float
) -> tuple[float, float]:
    """(mean absolute error, median relative error over cells with exact >= floor) of one table."""
    both = (
        noisy.select(*keys, pl.col(column).alias("dp"))
        .join(exact.select(*keys, pl.col(column).alias("exact")), on=keys)
        .drop_nulls()
    )
    mae = float((both["dp"] - both["exact"]).abs().mean() or 0.0)
    big = both.filter(pl.col("exact") >= floor)
    rel = (
        float(((big["dp"] - big["exact"]).abs() / big["exact"]).median() or float("nan"))
        if big.height
        else float("nan")
    )
    return mae, rel


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="a built lakehouse (default $BEACON_DATA_DIR)")
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    p = paths(args.data_dir)
    cfg = DPConfig()
    charges = plan_charges(cfg)
    with contextlib.closing(duckdb.connect(str(build_db_path(p.build)), read_only=True)) as con:
        window = default_window(con, cfg.window_days)
        exact = exact_tables(con, cfg, window)
        homes = con.execute(
            "SELECT count(DISTINCT home_id) FROM marts.mart_home_occupancy_profile"
        ).fetchall()[0][0]
        visitors = con.execute(
            "SELECT count(DISTINCT identity) FROM marts.fct_sessions WHERE session_date >= ? AND session_date < ?",
            list(window),
        ).fetchall()[0][0]
        runs = [compute_release(con, cfg, window, uuid.uuid4().hex, charges) for _ in range(args.trials)]
    print(
        f"data: {p.root}  window {window[0]} .. {window[1]} (exclusive), {visitors} visitors, {homes} homes"
    )
    print(
        f"epsilon per release: visitors {cfg.epsilon_visitors}, conversion {cfg.epsilon_conversion}, "
        f"occupancy {cfg.epsilon_occupancy} (total {cfg.release_epsilon}); bounds: {cfg.max_visitor_days} "
        f"visitor-days, {cfg.max_visitor_sessions} sessions per visitor; {args.trials} trials"
    )
    print("scales: " + ", ".join(f"{c.metric} {c.scale:g}" for c in charges))
    print(f"{'metric':<42}{'exact mean':>12}{'MAE':>12}{'median rel. err':>18}")
    for table, column, keys, floor in METRICS:
        maes, rels = zip(*(errors(r[table], exact[table], column, keys, floor) for r in runs), strict=True)
        mean_exact = float(exact[table][column].drop_nulls().mean() or 0.0)
        rel = statistics.fmean(r for r in rels if r == r) if any(r == r for r in rels) else float("nan")
        print(f"{table + '.' + column:<42}{mean_exact:>12.4g}{statistics.fmean(maes):>12.4g}{rel:>17.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
