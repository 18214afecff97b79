"""DP public metrics on a small synthetic build file: key grid, budget ledger, noise scale, refusal."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from lakehouse.config import paths
from lakehouse.privacy import budget
from lakehouse.privacy.dp_metrics import (
    CONVERSION,
    OCCUPANCY,
    VISITORS,
    DPConfig,
    add_noise,
    bounded_aggregates,
    exact_tables,
    laplace_scale,
    release_public_metrics,
)

START, END = dt.date(2026, 1, 1), dt.date(2026, 1, 8)


def _build(root: Path) -> Path:
    db = root / "build" / "marts_build.duckdb"
    db.parent.mkdir(parents=True)
    with contextlib.closing(duckdb.connect(str(db))) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute(
            """
            CREATE TABLE marts.fct_sessions AS
            SELECT 'v' || (i % 300) AS identity,
                   DATE '2026-01-01' + CAST(i % 7 AS INTEGER) AS session_date,
                   CASE WHEN i % 5 = 0 THEN 'FR' WHEN i % 11 = 0 THEN 'XX' ELSE 'DE' END AS country,
                   i % 4 = 0 AS purchased
            FROM range(3000) t(i)
            """
        )
        con.execute(
            """
            CREATE TABLE marts.mart_home_occupancy_profile AS
            SELECT 'h' || h AS home_id, w AS hour_of_week,
                   CASE WHEN w % 24 BETWEEN 8 AND 17 THEN 0.2 ELSE 0.9 END AS occupancy_probability
            FROM range(40) a(h), range(168) b(w)
            """
        )
    return db


def test_release_covers_the_public_key_grid_and_charges_the_ledger(data_dir: Path) -> None:
    db = _build(data_dir)
    p = paths(data_dir)
    cfg = DPConfig(total_epsilon=6.0, window_days=7)
    first = release_public_metrics(db, p, cfg)
    assert first.window == (START, END) and first.epsilon_left == pytest.approx(3.0)
    v, c, o = first.tables[VISITORS], first.tables[CONVERSION], first.tables[OCCUPANCY]
    assert v.height == 7 * (len(cfg.countries) + 1) and set(v["country"]) == {*cfg.countries, "other"}
    assert c["day"].to_list() == [START + dt.timedelta(days=i) for i in range(7)]
    assert o["hour_of_week"].to_list() == list(range(168))
    assert (v["visitors"] >= 0).all() and c["conversion_rate"].drop_nulls().is_between(0, 1).all()
    with contextlib.closing(duckdb.connect(str(db), read_only=True)) as con:
        published = con.execute(f"SELECT DISTINCT release_id FROM public.{VISITORS}").fetchall()
    assert published == [(first.release_id,)]
    ledger = budget.read_ledger(p)
    assert ledger["epsilon"].sum() == pytest.approx(3.0)
    assert set(ledger["release_id"]) == {first.release_id}

    release_public_metrics(db, p, cfg)
    with pytest.raises(budget.BudgetExhausted, match="exhausted"):
        release_public_metrics(db, p, cfg)
    assert budget.read_ledger(p)["epsilon"].sum() == pytest.approx(6.0)  # the refusal charged nothing


def test_huge_epsilon_converges_to_the_bounded_exact_figures(data_dir: Path) -> None:
    db = _build(data_dir)
    cfg = DPConfig(
        epsilon_visitors=1e6,
        epsilon_conversion=1e6,
        epsilon_occupancy=1e6,
        total_epsilon=1e7,
        window_days=7,
        max_visitor_days=20,
        max_visitor_sessions=10,
    )
    release = release_public_metrics(db, paths(data_dir), cfg)
    with contextlib.closing(duckdb.connect(str(db), read_only=True)) as con:
        exact = exact_tables(con, cfg, (START, END))
    assert release.tables[VISITORS]["visitors"].to_list() == exact[VISITORS]["visitors"].to_list()
    assert np.allclose(
        release.tables[OCCUPANCY]["occupancy_rate"], exact[OCCUPANCY]["occupancy_rate"], atol=1e-3
    )
    assert exact[OCCUPANCY]["occupancy_rate"][12] == pytest.approx(0.2)


def test_contribution_bounding_caps_each_visitor(data_dir: Path) -> None:
    db = _build(data_dir)
    with contextlib.closing(duckdb.connect(str(db), read_only=True)) as con:
        agg = bounded_aggregates(con, DPConfig(max_visitor_sessions=3), (START, END))
        free = bounded_aggregates(con, DPConfig(), (START, END), bound=False)
    assert agg[CONVERSION]["sessions"].sum() == 300 * 3  # 300 visitors, 10 sessions each, 3 kept
    assert free[CONVERSION]["sessions"].sum() == 3000


def test_noise_has_the_certified_scale() -> None:
    assert laplace_scale(7, 1.0, True) == pytest.approx(7.0)
    assert laplace_scale(168, 0.8, False) == pytest.approx(210.0)
    noise = add_noise(np.zeros(4000, dtype=np.int64), 7.0, True)
    assert 6.0 < float(np.abs(noise).mean()) < 8.0  # E|Laplace(b)| = b
    assert add_noise(np.zeros(3), 1.0, False).dtype == np.float64


def test_visitors_table_never_reveals_raw_countries(data_dir: Path) -> None:
    db = _build(data_dir)
    release = release_public_metrics(db, paths(data_dir), DPConfig(window_days=7))
    assert "XX" not in release.tables[VISITORS]["country"].to_list()
    assert (
        pl.Series(release.tables[VISITORS].columns)
        .is_in(["day", "country", "visitors", "release_id", "epsilon"])
        .all()
    )
