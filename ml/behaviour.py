"""Per-user behavioural features at a cutoff, from clickstream events.

Churn and segmentation both describe a user by what they did BEFORE a point in time. The very
first operation here drops every event at or after the cutoff, so no feature can read the future
(tested by deleting and perturbing all post-cutoff data). Sessions are rebuilt from the events
with the usual 30-minute inactivity timeout, so the features need only the bronze/staging event
columns: ``user_id, occurred_at, event_type`` and, when present, ``order_id, engaged_seconds`` and
the line value as ``amount`` (else ``price * quantity``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from ml.interactions import as_polars

SESSION_TIMEOUT = dt.timedelta(minutes=30)
#: Trend windows: the last 14 days vs the 14 before. Two weeks (not 30 days) so that a model
#: trained at a cutoff with only a month of history still sees real trends.
TREND_DAYS = 14
#: Features in the order models see them.
FEATURES: tuple[str, ...] = (
    "recency_days",
    "tenure_days",
    "sessions_14d",
    "sessions_prev_14d",
    "session_trend",
    "events_per_session",
    "engaged_seconds_per_session",
    "product_views_14d",
    "orders_90d",
    "monetary_90d",
    "avg_order_value",
    "days_since_last_purchase",
    "cart_abandonment_rate",
)

#: Features watched for drift: all but ``tenure_days``, which is bounded by how much history the
#: lakehouse holds and so "drifts" by construction while a deployment is young.
DRIFT_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if f != "tenure_days")

#: Features clustered on by :mod:`ml.segments` (a subset of :data:`FEATURES`: RFM plus engagement).
SEGMENT_FEATURES: tuple[str, ...] = (
    "recency_days",
    "sessions_14d",
    "orders_90d",
    "monetary_90d",
    "avg_order_value",
    "engaged_seconds_per_session",
    "cart_abandonment_rate",
)


def _naive_utc(frame: pl.DataFrame, column: str) -> pl.Expr:
    dtype = frame.schema[column]
    col = pl.col(column)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        col = col.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return col.cast(pl.Datetime("us"))


def prepare_events(events: Any) -> pl.DataFrame:
    """Events with the columns the features use (missing optional ones become null), UTC-naive time."""
    frame = as_polars(events)
    optional = {
        "price": pl.Float64,
        "quantity": pl.Int32,
        "engaged_seconds": pl.Float64,
        "order_id": pl.String,
    }
    cols = [
        (pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t)).alias(c) for c, t in optional.items()
    ]
    amount = (
        pl.col("amount").cast(pl.Float64)
        if "amount" in frame.columns
        else pl.col("price").cast(pl.Float64) * pl.col("quantity").fill_null(1).cast(pl.Float64)
        if "price" in frame.columns and "quantity" in frame.columns
        else pl.lit(None, pl.Float64)
    )
    return frame.select(
        pl.col("user_id").cast(pl.String),
        _naive_utc(frame, "occurred_at").alias("occurred_at"),
        pl.col("event_type").cast(pl.String),
        *cols,
        amount.alias("amount"),
    ).drop_nulls(["user_id", "occurred_at"])


def behaviour_features(events: Any, cutoff: dt.datetime, lookback_days: int = 90) -> pl.DataFrame:
    """One row per user active in ``[cutoff - lookback_days, cutoff)``, columns ``user_id`` + :data:`FEATURES`."""
    cutoff = _naive(cutoff)
    start = cutoff - dt.timedelta(days=lookback_days)
    ev = prepare_events(events).filter((pl.col("occurred_at") < cutoff) & (pl.col("occurred_at") >= start))
    # every column in the sort key: row order (hence float sums) depends on content only
    ev = ev.sort(ev.columns, nulls_last=True).with_columns(
        _new=(pl.col("occurred_at").diff().over("user_id") > SESSION_TIMEOUT).fill_null(True)
    )
    ev = ev.with_columns(_session=pl.col("_new").cum_sum().over("user_id"))
    days_before = (pl.lit(cutoff) - pl.col("occurred_at")).dt.total_seconds() / 86_400.0
    sessions = (
        ev.group_by("user_id", "_session")
        .agg(
            start=pl.col("occurred_at").min(),
            n_events=pl.len(),
            engaged=pl.col("engaged_seconds").sum(),
            carted=(pl.col("event_type") == "add_to_cart").any(),
            bought=(pl.col("event_type") == "purchase").any(),
        )
        .sort("user_id", "_session")
    )  # group_by output order is arbitrary; float means need a fixed one
    s_days = (pl.lit(cutoff) - pl.col("start")).dt.total_seconds() / 86_400.0
    per_session = sessions.group_by("user_id").agg(
        sessions_14d=(s_days < TREND_DAYS).sum(),
        sessions_prev_14d=((s_days >= TREND_DAYS) & (s_days < 2 * TREND_DAYS)).sum(),
        events_per_session=pl.col("n_events").mean(),
        engaged_seconds_per_session=pl.col("engaged").mean(),
        carted_sessions=pl.col("carted").sum(),
        abandoned_sessions=(pl.col("carted") & ~pl.col("bought")).sum(),
    )
    purchase = pl.col("event_type") == "purchase"
    amount = pl.col("amount").fill_null(0.0)
    per_event = (
        ev.with_columns(_days=days_before)
        .group_by("user_id")
        .agg(
            recency_days=pl.col("_days").min(),
            tenure_days=pl.col("_days").max(),
            product_views_14d=(
                (pl.col("event_type") == "product_view") & (pl.col("_days") < TREND_DAYS)
            ).sum(),
            orders_90d=pl.coalesce(pl.col("order_id"), pl.col("occurred_at").cast(pl.String))
            .filter(purchase)
            .n_unique(),
            monetary_90d=amount.filter(purchase).sum(),
            days_since_last_purchase=pl.col("_days").filter(purchase).min(),
        )
    )
    return (
        per_event.join(per_session, on="user_id")
        .with_columns(
            session_trend=(pl.col("sessions_14d") - pl.col("sessions_prev_14d"))
            / (pl.col("sessions_prev_14d") + 1.0),
            avg_order_value=pl.when(pl.col("orders_90d") > 0)
            .then(pl.col("monetary_90d") / pl.col("orders_90d"))
            .otherwise(0.0),
            days_since_last_purchase=pl.col("days_since_last_purchase").fill_null(float(lookback_days)),
            cart_abandonment_rate=pl.when(pl.col("carted_sessions") > 0)
            .then(pl.col("abandoned_sessions") / pl.col("carted_sessions"))
            .otherwise(0.0),
            engaged_seconds_per_session=pl.col("engaged_seconds_per_session").fill_null(0.0),
        )
        .select("user_id", *[pl.col(f).cast(pl.Float64) for f in FEATURES])
        .sort("user_id")
    )


def active_users(events: Any, start: dt.datetime, end: dt.datetime) -> pl.DataFrame:
    """Users with any event (a session or a purchase) in ``[start, end)``."""
    ev = prepare_events(events)
    return (
        ev.filter((pl.col("occurred_at") >= _naive(start)) & (pl.col("occurred_at") < _naive(end)))
        .select("user_id")
        .unique()
    )


def _naive(ts: dt.datetime | dt.date) -> dt.datetime:
    if not isinstance(ts, dt.datetime):
        ts = dt.datetime(ts.year, ts.month, ts.day)
    if ts.tzinfo is not None:
        ts = ts.astimezone(dt.UTC).replace(tzinfo=None)
    return ts


def latest_event_time(events: Any) -> dt.datetime:
    """The instant just after the last event: the natural "now" for scoring current users."""
    last = prepare_events(events).get_column("occurred_at").max()
    if not isinstance(last, dt.datetime):
        raise ValueError("no events")
    return last + dt.timedelta(microseconds=1)
