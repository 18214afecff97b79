"""Reading the models' inputs from Beacon's dbt build file (DuckDB), as polars frames.

The models themselves take plain frames; this module is the only place that knows Beacon's
table and column names. Inputs (all in the private build file the dbt build writes):

* ``intermediate.int_clickstream__events_stitched``: behavioural events (bots and events without
  analytics consent already removed) with ``stitched_user_id``, ``event_type``, ``occurred_at``,
  ``product_id``, ``category``, ``line_amount_eur``, ``engaged_seconds_capped``.
* ``marts.mart_interaction_matrix``: its ``user_id`` list is the set of users who currently allow
  personalisation (the mart drops the others), so the recommender trains on them only.
* ``marts.dim_users``: users to score and their ``latest_consent_personalization``.
* ``marts.mart_category_preferences``: ``user_id, category, category_rank`` for fallbacks.
* ``marts.fct_sessions``: ``session_id, identity, experiment_id, variant, checkout_started, purchased,
  revenue_eur`` for A/B readouts.

Queries read only the columns they need and run in DuckDB, so memory is the result size.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from ml.catalogue import CONSUMABLE_CATEGORIES

EVENTS = "intermediate.int_clickstream__events_stitched"
INTERACTION_MATRIX = "marts.mart_interaction_matrix"
USERS = "marts.dim_users"
CATEGORY_PREFERENCES = "marts.mart_category_preferences"
SESSIONS = "marts.fct_sessions"
#: Implicit-feedback weight per event type: the defaults of the dbt vars interaction_weight_*,
#: so event-level training data weighs events like mart_interaction_matrix does.
INTERACTION_WEIGHTS: dict[str, float] = {
    "product_view": 1.0,
    "add_to_wishlist": 2.0,
    "add_to_cart": 3.0,
    "purchase": 5.0,
}


@contextmanager
def read_only(database: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived read-only connection (a reader holding the file open blocks writers)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        yield con
    finally:
        con.close()


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
    out = pl.from_arrow(con.sql(sql, params=params).to_arrow_table())
    assert isinstance(out, pl.DataFrame)
    return out


def read_interactions(database: str | Path) -> pl.DataFrame:
    """Event-level interactions of consenting users: ``user_id, item_id, weight, occurred_at, purchased``.

    Event level (not the aggregated mart) because the temporal evaluation split needs each
    interaction's time; the mart's user list applies the personalisation-consent rule.
    """
    cases = " ".join(f"when '{t}' then {w}" for t, w in INTERACTION_WEIGHTS.items())
    types = ", ".join(f"'{t}'" for t in INTERACTION_WEIGHTS)
    sql = f"""
        select e.stitched_user_id as user_id, e.product_id as item_id,
               cast(case e.event_type {cases} end as float) as weight,
               e.occurred_at, e.event_type = 'purchase' as purchased
        from {EVENTS} as e
        where e.stitched_user_id in (select distinct user_id from {INTERACTION_MATRIX})
          and e.product_id is not null and e.event_type in ({types})
    """
    with read_only(database) as con:
        return _frame(con, sql)


def read_catalogue(database: str | Path) -> pl.DataFrame:
    """``item_id, category`` (most frequent category seen for each product)."""
    sql = f"""
        select product_id as item_id, mode(category) as category
        from {EVENTS} where product_id is not null group by product_id
    """
    with read_only(database) as con:
        return _frame(con, sql)


def read_events(database: str | Path, window_days: int | None = None) -> pl.DataFrame:
    """Identified users' events for churn/segment features: bronze-like columns, ``amount`` in EUR.

    ``window_days`` keeps only the last N days before the newest event (what the features and
    labels can use at all), so memory follows the window, not the whole history.
    """
    where = "stitched_user_id is not null"
    params: list[Any] | None = None
    if window_days is not None:
        where += f" and occurred_at >= (select max(occurred_at) from {EVENTS}) - to_days(cast(? as integer))"
        params = [window_days]
    sql = f"""
        select stitched_user_id as user_id, occurred_at, event_type, order_id,
               line_amount_eur as amount, engaged_seconds_capped as engaged_seconds
        from {EVENTS} where {where}
    """
    with read_only(database) as con:
        return _frame(con, sql, params)


def read_users(database: str | Path) -> pl.DataFrame:
    """``user_id, personalise`` for every known user (personalise = latest consent)."""
    sql = f"select user_id, coalesce(latest_consent_personalization, false) as personalise from {USERS}"
    with read_only(database) as con:
        return _frame(con, sql)


def read_category_preferences(database: str | Path, top_n: int = 3) -> pl.DataFrame:
    """``user_id, category`` of each user's ``top_n`` favourite categories."""
    sql = f"select user_id, category from {CATEGORY_PREFERENCES} where category_rank <= ? order by user_id, category_rank"
    with read_only(database) as con:
        return _frame(con, sql, [top_n])


def read_non_rebuyable_purchases(database: str | Path) -> pl.DataFrame:
    """``user_id, item_id`` bought at any time in a category that is not re-bought."""
    cats = ", ".join(f"'{c}'" for c in sorted(CONSUMABLE_CATEGORIES))
    sql = f"""
        select distinct stitched_user_id as user_id, product_id as item_id from {EVENTS}
        where event_type = 'purchase' and stitched_user_id is not null and product_id is not null
          and coalesce(category, '') not in ({cats})
    """
    with read_only(database) as con:
        return _frame(con, sql)


def read_experiment_users(database: str | Path) -> pl.DataFrame:
    """Per visitor and experiment: ``experiment_id, variant, user_id, converted, revenue`` from sessions.

    Visitor = ``identity`` (stitched user, else device), the unit mart_experiment_readout counts;
    visitors seen in two variants of one experiment are dropped (contaminated assignment).
    """
    sql = f"""
        select experiment_id, min(variant) as variant, identity as user_id,
               bool_or(purchased) as converted, coalesce(sum(revenue_eur), 0.0) as revenue
        from {SESSIONS}
        where experiment_id is not null and variant is not null
        group by experiment_id, identity
        having count(distinct variant) = 1
    """
    with read_only(database) as con:
        return _frame(con, sql)


def read_experiment_checkout_sessions(database: str | Path) -> pl.DataFrame:
    """Per session that started a checkout: ``experiment_id, variant, user_id`` (= session id), ``converted, revenue``.

    The unit of checkout experiments ("does the new button make checkouts complete?"): a visitor's
    any-purchase rate over weeks dilutes a checkout effect, the per-checkout completion rate does not.
    Sessions of one visitor are not independent, so treat its p-values as slightly optimistic.
    """
    sql = f"""
        select experiment_id, variant, session_id as user_id, purchased as converted,
               coalesce(revenue_eur, 0.0) as revenue
        from {SESSIONS}
        where experiment_id is not null and variant is not null and checkout_started > 0
    """
    with read_only(database) as con:
        return _frame(con, sql)


def snapshot_info(database: str | Path) -> dict[str, Any]:
    """What identifies the build file a model saw: path, size and modification time."""
    stat = os.stat(database)
    return {
        "build_file": str(database),
        "build_file_bytes": stat.st_size,
        "build_file_mtime": dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).isoformat(),
    }


def drop_withdrawn(
    users: pl.DataFrame | None, interactions: pl.DataFrame, withdrawn: pl.DataFrame
) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    """Honour personalisation withdrawn in the consent table (``withdrawn``: ``user_id``).

    The marts decide consent by each user's latest IDENTIFIED event; someone who withdrew
    analytics consent too has no identified event after the change, so the consent table's
    current state must also be applied here: their interactions leave training and scoring, and
    ``personalise`` turns false, which gives them the non-personalised fallback.
    """
    gone = withdrawn.get_column("user_id").implode()
    kept = interactions.filter(~pl.col("user_id").is_in(gone))
    if users is None:
        return None, kept
    return users.with_columns(pl.col("personalise") & ~pl.col("user_id").is_in(gone)), kept
