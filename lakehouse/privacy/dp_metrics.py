"""Differentially private public metrics, computed from the built marts with OpenDP.

Three public tables (schema ``public`` of the build file, published with the marts):

``public_daily_visitors_by_country`` (day, country, visitors)
    Distinct visitors (``fct_sessions.identity``: the stitched user, else the device) per day and
    country. Privacy unit: a visitor. Each visitor is kept in at most ``max_visitor_days``
    (day, country) cells, chosen at random (contribution bounding), so one person changes the
    vector of counts by at most that much in L1; discrete Laplace noise with scale
    ``max_visitor_days / epsilon``.

``public_conversion_rate_daily`` (day, sessions, purchasing_sessions, conversion_rate)
    Sessions and sessions with a purchase per day. Each visitor keeps at most
    ``max_visitor_sessions`` random sessions; the two count vectors get half the metric's epsilon
    each; the rate is their ratio (post-processing, clamped to [0, 1]).

``public_occupancy_by_hour_of_week`` (hour_of_week, day_of_week, local_hour, occupancy_rate)
    Mean over homes of ``mart_home_occupancy_profile.occupancy_probability`` per hour of the
    week (0 = Monday 00:00 local). Privacy unit: a home, which contributes a value in [0, 1] to
    each of the 168 cells: L1 sensitivity 168 for the sums (``sum_share`` of the epsilon) and 1
    for the number of homes (the rest). Meaningful only with many homes: see the accuracy report.

Keys are public, never taken from the data: the days of the release window and a configured
list of countries (anything else is counted as ``other``); every key gets a noisy value, zero
cells included, so which countries or days had visitors is not revealed by their presence.
Noise is drawn by OpenDP (``make_laplace`` over vectors: integer counts get the discrete Laplace
mechanism, float sums the continuous one), from the OS's secure randomness, after the release
was charged to the budget ledger (:mod:`lakehouse.privacy.budget`). Everything is vectorised: the
aggregates are DuckDB queries and each metric's noise is one OpenDP call over its whole vector.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from lakehouse.config import DataPaths
from lakehouse.privacy import budget

PUBLIC_SCHEMA = "public"
VISITORS = "public_daily_visitors_by_country"
CONVERSION = "public_conversion_rate_daily"
OCCUPANCY = "public_occupancy_by_hour_of_week"
HOURS_OF_WEEK = 168
#: The shop's markets (public knowledge); any other country is released as ``other``.
DEFAULT_COUNTRIES: tuple[str, ...] = ("DE", "FR", "NL", "ES", "IT", "PL", "SE", "GB", "IE", "PT", "US", "IN")
OTHER = "other"


@dataclass(frozen=True)
class DPConfig:
    """Epsilon per metric, the total budget, contribution bounds and the public key domains."""

    epsilon_visitors: float = 1.0
    epsilon_conversion: float = 1.0
    epsilon_occupancy: float = 1.0
    total_epsilon: float = 10.0
    scope: str = "public_metrics"
    window_days: int = 28
    max_visitor_days: int = 7
    max_visitor_sessions: int = 7
    occupancy_sum_share: float = 0.8
    countries: tuple[str, ...] = field(default=DEFAULT_COUNTRIES)

    @property
    def release_epsilon(self) -> float:
        return self.epsilon_visitors + self.epsilon_conversion + self.epsilon_occupancy


@dataclass(frozen=True)
class Release:
    """One release: the public tables, what each metric cost, its id and window."""

    release_id: str
    window: tuple[dt.date, dt.date]
    tables: dict[str, pl.DataFrame]
    charges: tuple[budget.Charge, ...]
    epsilon_left: float | None = None


# ------------------------------------------------------------------------------ mechanisms
@functools.cache
def _opendp():  # type: ignore[no-untyped-def]
    """OpenDP with its ``contrib`` features (imported once: enabling features is not free)."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


def laplace_scale(sensitivity: float, epsilon: float, integer: bool) -> float:
    """The smallest noise scale OpenDP certifies as ``epsilon``-DP at L1 ``sensitivity``."""
    dp = _opendp()
    space = _space(dp, integer)
    d_in = int(sensitivity) if integer else float(sensitivity)
    return float(
        dp.binary_search_param(lambda s: dp.m.make_laplace(*space, scale=s), d_in=d_in, d_out=epsilon)
    )


def _space(dp, integer: bool):  # type: ignore[no-untyped-def]
    if integer:
        return dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
    return dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.l1_distance(T=float)


def add_noise(values: np.ndarray, scale: float, integer: bool) -> np.ndarray:
    """One OpenDP Laplace measurement over the whole vector (discrete for integer counts)."""
    dp = _opendp()
    meas = dp.m.make_laplace(*_space(dp, integer), scale=scale)
    data = [int(v) for v in values.tolist()] if integer else [float(v) for v in values.tolist()]
    return np.asarray(meas(data), dtype=np.int64 if integer else np.float64)


def plan_charges(config: DPConfig) -> tuple[budget.Charge, ...]:
    """What a release costs, per metric, known before any data is read."""
    half = config.epsilon_conversion / 2
    occ_sum = config.epsilon_occupancy * config.occupancy_sum_share
    occ_n = config.epsilon_occupancy - occ_sum
    k_days, k_sess = config.max_visitor_days, config.max_visitor_sessions
    return (
        budget.Charge(
            VISITORS,
            config.epsilon_visitors,
            "discrete_laplace",
            k_days,
            laplace_scale(k_days, config.epsilon_visitors, True),
        ),
        budget.Charge(
            f"{CONVERSION}.sessions", half, "discrete_laplace", k_sess, laplace_scale(k_sess, half, True)
        ),
        budget.Charge(
            f"{CONVERSION}.purchasing_sessions",
            half,
            "discrete_laplace",
            k_sess,
            laplace_scale(k_sess, half, True),
        ),
        budget.Charge(
            f"{OCCUPANCY}.sum",
            occ_sum,
            "laplace",
            HOURS_OF_WEEK,
            laplace_scale(HOURS_OF_WEEK, occ_sum, False),
        ),
        budget.Charge(f"{OCCUPANCY}.homes", occ_n, "discrete_laplace", 1, laplace_scale(1, occ_n, True)),
    )


# ------------------------------------------------------------------------------ aggregates
def default_window(
    con: duckdb.DuckDBPyConnection, window_days: int, catalog: str = "marts"
) -> tuple[dt.date, dt.date]:
    """``window_days`` days ending with the last session day (in production: the run's date)."""
    rows = con.execute(f"SELECT max(session_date) FROM {catalog}.fct_sessions").fetchall()
    last = rows[0][0] if rows and rows[0][0] else dt.datetime.now(dt.UTC).date()
    end = last + dt.timedelta(days=1)
    return end - dt.timedelta(days=window_days), end


def bounded_aggregates(
    con: duckdb.DuckDBPyConnection,
    config: DPConfig,
    window: tuple[dt.date, dt.date],
    *,
    bound: bool = True,
    schema: str = "marts",
) -> dict[str, pl.DataFrame]:
    """The exact aggregates DP noise is added to, over the public key grid.

    With ``bound`` (the release), each visitor's contributions are capped at random; without it
    (the accuracy report's reference), they are the plain exact figures.
    """
    start, end = window
    days_cap = config.max_visitor_days if bound else 2**31 - 1
    sess_cap = config.max_visitor_sessions if bound else 2**31 - 1
    params = {"start": start, "end": end, "countries": list(config.countries)}
    visitors = con.sql(
        f"""
        WITH s AS (
            SELECT DISTINCT identity, session_date AS day,
                   CASE WHEN list_contains($countries, country) THEN country ELSE '{OTHER}' END AS country
            FROM {schema}.fct_sessions
            WHERE identity IS NOT NULL AND session_date >= $start AND session_date < $end
        ), r AS (SELECT *, random() AS u FROM s),
        b AS (
            SELECT day, country, row_number() OVER (PARTITION BY identity ORDER BY u) AS rn FROM r
        ), c AS (SELECT day, country, count(*) AS n FROM b WHERE rn <= {days_cap} GROUP BY ALL),
        grid AS (
            SELECT CAST(d AS DATE) AS day, k AS country
            FROM range(CAST($start AS TIMESTAMP), CAST($end AS TIMESTAMP), INTERVAL 1 DAY) r(d),
                 unnest(list_append($countries, '{OTHER}')) u(k)
        )
        SELECT grid.day, grid.country, coalesce(c.n, 0) AS visitors
        FROM grid LEFT JOIN c USING (day, country) ORDER BY grid.day, grid.country
        """,
        params=params,
    ).to_arrow_table()
    conversion = con.sql(
        f"""
        WITH r AS (
            SELECT identity, session_date AS day, purchased, random() AS u
            FROM {schema}.fct_sessions
            WHERE identity IS NOT NULL AND session_date >= $start AND session_date < $end
        ), s AS (
            SELECT day, purchased, row_number() OVER (PARTITION BY identity ORDER BY u) AS rn FROM r
        ), c AS (
            SELECT day, count(*) AS sessions, count(*) FILTER (WHERE purchased) AS purchasing_sessions
            FROM s WHERE rn <= {sess_cap} GROUP BY day
        ), grid AS (
            SELECT CAST(d AS DATE) AS day
            FROM range(CAST($start AS TIMESTAMP), CAST($end AS TIMESTAMP), INTERVAL 1 DAY) r(d)
        )
        SELECT grid.day, coalesce(sessions, 0) AS sessions, coalesce(purchasing_sessions, 0) AS purchasing_sessions
        FROM grid LEFT JOIN c USING (day) ORDER BY grid.day
        """,
        params={"start": start, "end": end},
    ).to_arrow_table()
    occupancy = con.sql(
        f"""
        WITH p AS (
            SELECT home_id, hour_of_week, least(greatest(CAST(occupancy_probability AS DOUBLE), 0.0), 1.0) AS v
            FROM {schema}.mart_home_occupancy_profile
            WHERE hour_of_week BETWEEN 0 AND {HOURS_OF_WEEK - 1} AND occupancy_probability IS NOT NULL
        ), c AS (SELECT hour_of_week, sum(v) AS occupied_sum FROM p GROUP BY ALL)
        SELECT CAST(g.h AS INTEGER) AS hour_of_week, CAST(coalesce(c.occupied_sum, 0.0) AS DOUBLE) AS occupied_sum,
               (SELECT count(DISTINCT home_id) FROM p) AS homes
        FROM range(0, {HOURS_OF_WEEK}) g(h) LEFT JOIN c ON c.hour_of_week = g.h ORDER BY g.h
        """
    ).to_arrow_table()
    return {
        name: _frame(t)
        for name, t in ((VISITORS, visitors), (CONVERSION, conversion), (OCCUPANCY, occupancy))
    }


def _frame(table: object) -> pl.DataFrame:
    frame = pl.from_arrow(table)  # type: ignore[arg-type]
    assert isinstance(frame, pl.DataFrame)
    return frame


def finish_tables(
    agg: dict[str, pl.DataFrame], release_id: str, epsilons: dict[str, float]
) -> dict[str, pl.DataFrame]:
    """Public tables from (noisy or exact) aggregates: clamping and ratios are post-processing."""
    visitors = agg[VISITORS].select("day", "country", pl.col("visitors").clip(lower_bound=0).cast(pl.Int64))
    conv = agg[CONVERSION].with_columns(
        pl.col("sessions").clip(lower_bound=0).cast(pl.Int64),
        pl.col("purchasing_sessions").clip(lower_bound=0).cast(pl.Int64),
    )
    conv = conv.with_columns(
        pl.when(pl.col("sessions") > 0)
        .then((pl.col("purchasing_sessions") / pl.col("sessions")).clip(0.0, 1.0))
        .alias("conversion_rate")
    )
    occ = agg[OCCUPANCY]
    homes = occ["homes"].clip(lower_bound=1)
    occupancy = occ.select(
        pl.col("hour_of_week").cast(pl.Int32),
        (pl.col("hour_of_week") // 24).cast(pl.Int32).alias("day_of_week"),
        (pl.col("hour_of_week") % 24).cast(pl.Int32).alias("local_hour"),
        (pl.col("occupied_sum") / homes).clip(0.0, 1.0).alias("occupancy_rate"),
    )
    out = {VISITORS: visitors, CONVERSION: conv, OCCUPANCY: occupancy}
    return {
        name: frame.with_columns(
            pl.lit(release_id).alias("release_id"), pl.lit(epsilons[name]).alias("epsilon")
        )
        for name, frame in out.items()
    }


def noisy_aggregates(
    agg: dict[str, pl.DataFrame], charges: Sequence[budget.Charge]
) -> dict[str, pl.DataFrame]:
    """Add each charge's noise to its vector (one OpenDP call per vector)."""
    by = {c.metric: c for c in charges}
    v, c, o = agg[VISITORS], agg[CONVERSION], agg[OCCUPANCY]
    homes_noisy = add_noise(o["homes"].head(1).to_numpy(), by[f"{OCCUPANCY}.homes"].scale, True)[0]
    return {
        VISITORS: v.with_columns(
            pl.Series("visitors", add_noise(v["visitors"].to_numpy(), by[VISITORS].scale, True))
        ),
        CONVERSION: c.with_columns(
            pl.Series(
                "sessions", add_noise(c["sessions"].to_numpy(), by[f"{CONVERSION}.sessions"].scale, True)
            ),
            pl.Series(
                "purchasing_sessions",
                add_noise(
                    c["purchasing_sessions"].to_numpy(), by[f"{CONVERSION}.purchasing_sessions"].scale, True
                ),
            ),
        ),
        OCCUPANCY: o.with_columns(
            pl.Series(
                "occupied_sum", add_noise(o["occupied_sum"].to_numpy(), by[f"{OCCUPANCY}.sum"].scale, False)
            ),
            pl.lit(int(homes_noisy)).alias("homes"),
        ),
    }


def epsilons(config: DPConfig) -> dict[str, float]:
    return {
        VISITORS: config.epsilon_visitors,
        CONVERSION: config.epsilon_conversion,
        OCCUPANCY: config.epsilon_occupancy,
    }


def compute_release(
    con: duckdb.DuckDBPyConnection,
    config: DPConfig,
    window: tuple[dt.date, dt.date],
    release_id: str,
    charges: Sequence[budget.Charge],
    schema: str = "marts",
) -> dict[str, pl.DataFrame]:
    """The public tables of one release (noise included). Charge the budget BEFORE calling this."""
    agg = bounded_aggregates(con, config, window, schema=schema)
    return finish_tables(noisy_aggregates(agg, charges), release_id, epsilons(config))


def exact_tables(
    con: duckdb.DuckDBPyConnection, config: DPConfig, window: tuple[dt.date, dt.date], schema: str = "marts"
) -> dict[str, pl.DataFrame]:
    """The same tables without noise nor contribution bounds: the reference for accuracy only,
    NEVER to be published."""
    agg = bounded_aggregates(con, config, window, bound=False, schema=schema)
    return finish_tables(agg, "exact", epsilons(config))


def write_public_tables(
    con: duckdb.DuckDBPyConnection, tables: dict[str, pl.DataFrame], catalog: str | None = None
) -> None:
    """Replace the ``public`` tables in one transaction (readers see the old or the new release)."""
    prefix = f'"{catalog}".' if catalog else ""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {prefix}{PUBLIC_SCHEMA}")
        for name, frame in tables.items():
            con.register("__release", frame.to_arrow())
            con.execute(f"CREATE OR REPLACE TABLE {prefix}{PUBLIC_SCHEMA}.{name} AS SELECT * FROM __release")
            con.unregister("__release")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def release_public_metrics(
    build_db: Path,
    paths: DataPaths,
    config: DPConfig | None = None,
    window: tuple[dt.date, dt.date] | None = None,
) -> Release:
    """Charge the budget, compute the noisy public tables from the build file's marts and write them
    to its ``public`` schema. Raises :class:`budget.BudgetExhausted` (nothing written) once spent."""
    cfg = config or DPConfig()
    charges = plan_charges(cfg)
    release_id = uuid.uuid4().hex
    with contextlib.closing(duckdb.connect(str(build_db))) as con:
        win = window or default_window(con, cfg.window_days)
        left = budget.charge(paths, cfg.scope, cfg.total_epsilon, release_id, charges, win)
        tables = compute_release(con, cfg, win, release_id, charges)
        write_public_tables(con, tables)
    return Release(release_id, win, tables, charges, left)
