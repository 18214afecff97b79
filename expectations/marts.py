"""Mart suites: ranges, cross-table relations and reconciliation with bronze.

Cross-table checks are COMPUTED IN DUCKDB and ASSERTED WITH GX: a read-only DuckDB connection
opens the private build file (``build/marts_build.duckdb``, where dbt writes before publishing)
and exposes bronze Delta tables as Arrow datasets (no ``delta_scan`` extension here); one SQL
query per suite produces a small frame (one row per session, customer, purchase or measure) and
plain GX column expectations assert on it. The frames keep the identifying columns, so the
failing-row sample in Dagster says which session, customer or purchase is wrong.

Table and column names live in :class:`MartLayout` (one place to change when a model is
renamed). Revenue is recomputed from bronze with the staging layer's documented rules (dbt vars
``bot_user_agent_regex``, ``bot_max_events_per_minute``, ``max_line_quantity``,
``max_unit_price``, ``fx_to_eur``; de-duplication by event_id; events without analytics consent
are not behavioural; a device's anonymous events belong to the user it first logged in as),
reading the vars from ``dbt_project.yml`` so the two cannot drift. Two totals are reconciled:
session revenue (``fct_sessions.revenue_eur``: purchase lines) and users' net revenue
(``dim_users.revenue_eur - refunds_eur``: purchases minus refunds of identified users). Totals,
not days: a session crossing midnight carries its revenue to its start date.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from expectations.model import Expectation, Severity, Suite, check_infos
from expectations.settings import dbt_var

E = Severity.ERROR
BUILD_FILE = Path("build") / "marts_build.duckdb"
MAX_SESSION_SECONDS = 24 * 3600
#: Revenue may differ from the bronze recomputation by rounding only (EUR).
REVENUE_TOLERANCE_EUR = 0.01


#: RFM segments as documented in mart_rfm.yml (a complete partition of the r x f grid).
RFM_SEGMENTS: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Potential loyalist",
    "New",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Can't lose",
    "Hibernating",
    "Lost",
)


@dataclass(frozen=True)
class MartLayout:
    """Where each checked fact lives in the build DuckDB (``schema.table`` and column names)."""

    sessions: str = "marts.fct_sessions"
    session_id: str = "session_id"
    session_device: str = "anonymous_id"
    session_start: str = "session_start_at"
    session_duration: str = "duration_seconds"
    session_engaged: str = "engaged_seconds"
    session_revenue: str = "revenue_eur"
    rfm: str = "marts.mart_rfm"
    rfm_user: str = "user_id"
    rfm_scores: tuple[str, ...] = ("r_score", "f_score", "m_score")
    rfm_segment: str = "segment"
    rfm_segments: tuple[str, ...] = RFM_SEGMENTS
    users: str = "marts.dim_users"
    users_user: str = "user_id"
    users_revenue: str = "revenue_eur"
    users_refunds: str = "refunds_eur"
    #: cleaned events (one row per event_id, with is_behavioural) the session marts are built from
    events: str = "staging.stg_clickstream__events"

    def asset(self, table: str) -> list[str]:
        """The Dagster asset key of a ``schema.table`` (``["marts", "fct_sessions"]``)."""
        return table.split(".", 1)


LAYOUT = MartLayout()


def build_file(root: Path) -> Path:
    return root / BUILD_FILE


@contextmanager
def connect(root: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with the build file attached READ ONLY as ``build`` and bronze as views.

    Attaching read-only keeps the checks from ever holding the writer lock of the build file;
    bronze tables are registered as Arrow datasets (``bronze_clickstream_events``, ...).
    """
    from lakehouse import storage

    con = duckdb.connect()
    try:
        path = build_file(root)
        if not path.is_file():
            raise FileNotFoundError(f"no build DuckDB at {path}: run the dbt marts first")
        con.execute(f"attach '{path.as_posix()}' as build (read_only)")
        con.execute("use build")
        for table in ("clickstream_events", "sensor_readings"):
            delta = root / "delta" / "bronze" / table
            if storage.table_exists(delta):
                con.register(f"bronze_{table}", storage.arrow_dataset(delta))
        yield con
    finally:
        con.close()


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    return con.sql(sql).pl()


# ---------------------------------------------------------------------------------------------
# suites


def sessions_suite(layout: MartLayout = LAYOUT) -> Suite:
    return Suite(
        name="marts_sessions",
        description=f"{layout.sessions}: durations and engaged time are possible.",
        expectations=(
            Expectation(
                "duration_0_24h",
                "session_duration_valid",
                "ExpectColumnValuesToBeBetween",
                {"column": "duration_seconds", "min_value": 0, "max_value": MAX_SESSION_SECONDS},
                "a session lasts between 0 and 24 h (a longer one is a sessionisation bug or a bot)",
            ),
            Expectation(
                "duration_not_null",
                "session_duration_valid",
                "ExpectColumnValuesToNotBeNull",
                {"column": "duration_seconds"},
                "every session has a duration",
            ),
            Expectation(
                "engaged_le_duration",
                "session_duration_valid",
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {
                    "column_A": "duration_seconds",
                    "column_B": "engaged_seconds",
                    "or_equal": True,
                    "ignore_row_if": "either_value_is_missing",
                },
                "engaged time cannot exceed the session's duration",
            ),
        ),
        checks=check_infos(
            ("session_duration_valid", E, "0 <= duration <= 24 h and engaged time <= duration")
        ),
        key_columns=("session_id",),
    )


def sessions_frame(con: duckdb.DuckDBPyConnection, layout: MartLayout = LAYOUT) -> pl.DataFrame:
    return _frame(
        con,
        f"""select cast({layout.session_id} as varchar) as session_id,
                   cast({layout.session_duration} as double) as duration_seconds,
                   cast({layout.session_engaged} as double) as engaged_seconds
            from {layout.sessions}""",
    )


def rfm_suite(layout: MartLayout = LAYOUT) -> Suite:
    exps = [
        Expectation(
            f"score_1_5:{name}",
            "rfm_scores_valid",
            "ExpectColumnValuesToBeInSet",
            {"column": name, "value_set": [1, 2, 3, 4, 5]},
            f"{name} is a quintile score 1..5",
        )
        for name in layout.rfm_scores
    ]
    exps += [
        Expectation(
            f"score_not_null:{name}",
            "rfm_scores_valid",
            "ExpectColumnValuesToNotBeNull",
            {"column": name},
            f"every customer has a {name}",
        )
        for name in layout.rfm_scores
    ]
    exps += [
        Expectation(
            "one_row_per_user",
            "one_segment_per_user",
            "ExpectColumnValuesToBeInSet",
            {"column": "rows_for_user", "value_set": [1]},
            "a customer appears once, so in exactly one segment",
        ),
        Expectation(
            "segment_known",
            "one_segment_per_user",
            "ExpectColumnValuesToBeInSet",
            {"column": "segment", "value_set": list(layout.rfm_segments)},
            "the segment is one of the documented RFM segments",
        ),
        Expectation(
            "segment_not_null",
            "one_segment_per_user",
            "ExpectColumnValuesToNotBeNull",
            {"column": "segment"},
            "the segment rules leave no customer without a segment",
        ),
    ]
    return Suite(
        name="marts_rfm",
        description=f"{layout.rfm}: RFM scores are quintiles 1..5 and every customer is in exactly one segment.",
        expectations=tuple(exps),
        checks=check_infos(
            ("rfm_scores_valid", E, "recency, frequency and monetary scores within 1..5"),
            ("one_segment_per_user", E, "every customer in exactly one documented segment"),
        ),
        key_columns=("user_id", "segment"),
    )


def rfm_frame(con: duckdb.DuckDBPyConnection, layout: MartLayout = LAYOUT) -> pl.DataFrame:
    cols = ", ".join(f"cast({c} as bigint) as {c}" for c in layout.rfm_scores)
    return _frame(
        con,
        f"""select cast({layout.rfm_user} as varchar) as user_id, {cols},
                   cast({layout.rfm_segment} as varchar) as segment,
                   count(*) over (partition by {layout.rfm_user}) as rows_for_user
            from {layout.rfm} order by 1""",
    )


def purchases_suite(layout: MartLayout = LAYOUT) -> Suite:
    return Suite(
        name="marts_purchases_in_sessions",
        description=f"Every behavioural purchase of {layout.events} lies inside a session of {layout.sessions}.",
        expectations=(
            Expectation(
                "purchase_has_session",
                "purchases_in_sessions",
                "ExpectColumnValuesToNotBeNull",
                {"column": "session_id"},
                "every purchase (not a bot, with consent) happened inside a session of its device: "
                "otherwise session revenue and conversion rates lose it",
            ),
        ),
        checks=check_infos(("purchases_in_sessions", E, "every purchase belongs to a session")),
        key_columns=("event_id", "anonymous_id", "occurred_at", "session_id"),
    )


def purchases_frame(con: duckdb.DuckDBPyConnection, layout: MartLayout = LAYOUT) -> pl.DataFrame:
    end = f"s.{layout.session_start} + to_microseconds(cast(round(s.{layout.session_duration} * 1e6) as bigint))"
    return _frame(
        con,
        f"""select cast(e.event_id as varchar) as event_id, cast(e.anonymous_id as varchar) as anonymous_id,
                   e.occurred_at, min(cast(s.{layout.session_id} as varchar)) as session_id
            from {layout.events} e
            left join {layout.sessions} s
              on s.{layout.session_device} = e.anonymous_id
             and e.occurred_at >= s.{layout.session_start} and e.occurred_at <= {end}
            where e.is_behavioural and e.event_type = 'purchase'
            group by all
            order by 1""",
    )


def _revenue_suite(name: str, asset_table: str, what: str) -> Suite:
    return Suite(
        name=name,
        description=f"{asset_table}: {what} equals the recomputation from bronze.",
        expectations=(
            Expectation(
                "revenue_matches_bronze",
                "revenue_reconciles_with_bronze",
                "ExpectColumnValuesToBeBetween",
                {"column": "abs_difference_eur", "max_value": REVENUE_TOLERANCE_EUR},
                f"{what} = the same sum over bronze (de-duplicated, bots, events without consent and "
                "absurd lines excluded as stg_clickstream__events documents), to the cent",
            ),
        ),
        checks=check_infos(("revenue_reconciles_with_bronze", E, f"{what} reconciles with bronze")),
        key_columns=("measure", "bronze_eur", "mart_eur"),
    )


def session_revenue_suite(layout: MartLayout = LAYOUT) -> Suite:
    return _revenue_suite(
        "marts_session_revenue_reconciliation", layout.sessions, "session revenue (purchases)"
    )


def user_revenue_suite(layout: MartLayout = LAYOUT) -> Suite:
    return _revenue_suite(
        "marts_user_revenue_reconciliation", layout.users, "users' net revenue (purchases - refunds)"
    )


def _sql_regex(pattern: str) -> str:
    """The dbt var regex for DuckDB: inline ``(?i)`` becomes the ``'i'`` option."""
    return pattern.replace("(?i)", "").replace("'", "''")


def bronze_lines_sql(source: str = "bronze_clickstream_events") -> str:
    """Behavioural purchase and refund lines (EUR, signed) recomputed from bronze with the staging rules.

    Columns: event_date, event_type, stitched_user_id (own user_id, else the user the device first
    logged in as - int_clickstream__identity_map), amount_eur (positive purchases, negative refunds).
    """
    regex = str(dbt_var("bot_user_agent_regex", "(?i)(bot|crawler|spider)"))
    flags = "'i'" if "(?i)" in regex else "''"
    per_minute = int(dbt_var("bot_max_events_per_minute", 30))
    max_qty = float(dbt_var("max_line_quantity", 1000))
    max_price = float(dbt_var("max_unit_price", 10000))
    fx = dict(dbt_var("fx_to_eur", {"EUR": 1.0}))
    for code in fx:
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise ValueError(f"fx_to_eur has a non ISO-4217 key {code!r}")
    fx_case = " ".join(f"when '{c}' then {float(r)!r}" for c, r in fx.items())
    return f"""
        with events as (
            select * from {source}
            qualify row_number() over (
                partition by event_id order by received_at, _landed_at, _source_file, _source_line) = 1),
        minutes as (
            select *, case when anonymous_id is null then 0 else count(*) over (
                partition by anonymous_id, date_trunc('minute', occurred_at)) end as per_minute
            from events),
        behavioural as (
            select * from (
                select *, max(per_minute) over (partition by anonymous_id, event_date) as day_max_per_minute
                from minutes)
            where anonymous_id is not null and consent_analytics
              and not coalesce(regexp_matches(user_agent, '{_sql_regex(regex)}', {flags}), false)
              and not coalesce(day_max_per_minute > {per_minute}, false)),
        device_user as (
            select anonymous_id, user_id from behavioural where user_id is not null
            qualify row_number() over (partition by anonymous_id order by occurred_at, event_id) = 1)
        select b.event_date, b.event_type, coalesce(b.user_id, d.user_id) as stitched_user_id,
               case b.event_type when 'purchase' then 1 else -1 end
                 * b.price * b.quantity * (case b.currency {fx_case} end) as amount_eur
        from behavioural b left join device_user d on b.anonymous_id = d.anonymous_id
        where b.event_type in ('purchase', 'refund')
          and not coalesce(b.quantity > {max_qty} or b.price > {max_price}, false)"""


def _reconcile(con: duckdb.DuckDBPyConnection, measure: str, bronze_sql: str, mart_sql: str) -> pl.DataFrame:
    return _frame(
        con,
        f"""select '{measure}' as measure,
                   round(coalesce(({bronze_sql}), 0), 4) as bronze_eur,
                   round(coalesce(({mart_sql}), 0), 4) as mart_eur,
                   abs(coalesce(({bronze_sql}), 0) - coalesce(({mart_sql}), 0)) as abs_difference_eur""",
    )


def session_revenue_frame(con: duckdb.DuckDBPyConnection, layout: MartLayout = LAYOUT) -> pl.DataFrame:
    return _reconcile(
        con,
        "session_purchases",
        f"select sum(amount_eur) from ({bronze_lines_sql()}) where event_type = 'purchase'",
        f"select sum({layout.session_revenue}) from {layout.sessions}",
    )


def user_revenue_frame(con: duckdb.DuckDBPyConnection, layout: MartLayout = LAYOUT) -> pl.DataFrame:
    return _reconcile(
        con,
        "user_net_revenue",
        f"select sum(amount_eur) from ({bronze_lines_sql()}) where stitched_user_id is not null",
        f"select sum({layout.users_revenue} - {layout.users_refunds}) from {layout.users}",
    )


@dataclass(frozen=True)
class MartCheck:
    """A mart suite, the asset it is attached to and how its frame is computed."""

    suite: Suite
    table: str
    frame: Callable[[duckdb.DuckDBPyConnection, MartLayout], pl.DataFrame]


def mart_checks(layout: MartLayout = LAYOUT) -> list[MartCheck]:
    """Every mart suite with the table (asset) it validates."""
    return [
        MartCheck(sessions_suite(layout), layout.sessions, sessions_frame),
        MartCheck(purchases_suite(layout), layout.sessions, purchases_frame),
        MartCheck(session_revenue_suite(layout), layout.sessions, session_revenue_frame),
        MartCheck(rfm_suite(layout), layout.rfm, rfm_frame),
        MartCheck(user_revenue_suite(layout), layout.users, user_revenue_frame),
    ]
