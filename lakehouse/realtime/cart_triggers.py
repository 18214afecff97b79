"""Abandoned-cart triggers: one outbox record per abandoned cart, optionally pushed to a webhook.

A CART is a user's cart events (``add_to_cart``, ``remove_from_cart``) since their last
``checkout_started`` or ``purchase`` (those close it). It is ABANDONED when it still holds items
(net quantity per product > 0) and its last cart activity is at least ``abandon_after_minutes``
old with no close after it. Its id is a hash of the user pseudonym and the instant of its first
``add_to_cart``, so adding more items later does not make it a new cart.

Guarantees:

* one trigger per cart, ever: new carts are anti-joined against the outbox under an OS file lock
  (one writer at a time), and a user who already has a trigger after their last close in the
  window gets none (covers a cart whose first add fell out of the read window);
* none without personalisation consent (the user's latest event in the window decides: consent
  can be withdrawn) and none for anonymous carts (bronze has no user pseudonym without analytics
  consent);
* the outbox (Delta ``outbox/abandoned_cart_triggers``) is written BEFORE any webhook call, and
  every call is recorded in ``outbox/abandoned_cart_deliveries``; a trigger whose webhook has not
  succeeded is retried on the next run (transactional outbox), so delivery is at least once and
  the receiver de-duplicates with the ``Idempotency-Key`` header (the cart id).

Only pseudonyms leave Beacon: the payload has the user pseudonym (the shop maps it back with its
own key), product ids, value and recommended product ids.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import httpx
import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads

from lakehouse import storage
from lakehouse.config import DataPaths
from lakehouse.locks import file_lock

CART_EVENTS = ("add_to_cart", "remove_from_cart")
CLOSE_EVENTS = ("checkout_started", "purchase")
OUTBOX = ("outbox", "abandoned_cart_triggers")
DELIVERIES = ("outbox", "abandoned_cart_deliveries")
TS = pl.Datetime("us", "UTC")

ITEM = pl.Struct({"product_id": pl.String, "category": pl.String, "quantity": pl.Int32, "price": pl.Float64})
OUTBOX_SCHEMA = pl.Schema(
    {
        "cart_id": pl.String,
        "user_id": pl.String,
        "cart_started_at": TS,
        "last_activity_at": TS,
        "items": pl.List(ITEM),
        "item_count": pl.Int32,
        "value": pl.Float64,
        "currency": pl.String,
        "recommended_items": pl.List(pl.String),
        "recommendation_source": pl.String,
        "model_version": pl.String,
        "triggered_at": TS,
        "trigger_run_id": pl.String,
    }
)
DELIVERY_SCHEMA = pl.Schema(
    {
        "cart_id": pl.String,
        "attempted_at": TS,
        "attempts": pl.Int32,
        "status": pl.String,  # delivered | failed
        "http_status": pl.Int32,
        "error": pl.String,
    }
)


@dataclass(frozen=True)
class CartRules:
    """The documented thresholds (all configurable on the Dagster asset)."""

    abandon_after_minutes: int = 30
    lookback_hours: int = 48  # cart events read from bronze
    max_idle_hours: int = 24  # carts idle longer are stale: never triggered (e.g. first deployment)
    recommended_k: int = 5


def read_recent_events(paths: DataPaths, since: dt.datetime) -> pl.DataFrame:
    """Bronze clickstream events with a user pseudonym since ``since`` (partition-pruned)."""
    table = paths.table("bronze", "clickstream_events")
    cols = ["user_id", "event_type", "occurred_at", "product_id", "category", "price", "quantity", "currency"]
    cols.append("consent_personalization")
    if not storage.table_exists(table):
        return pl.DataFrame(schema={c: pl.String for c in cols})
    ds = storage.arrow_dataset(table)
    since_us = pa.scalar(since.astimezone(dt.UTC), pa.timestamp("us", "UTC"))
    flt = (
        (pads.field("event_date") >= pa.scalar(since.astimezone(dt.UTC).date()))
        & (pads.field("occurred_at") >= since_us)
        & pads.field("user_id").is_valid()
    )
    return pl.from_arrow(ds.to_table(columns=cols, filter=flt))  # type: ignore[return-value]


def _cart_id(user: pl.Expr, started: pl.Expr) -> pl.Expr:
    return pl.concat_str([user, started.dt.strftime("%Y-%m-%dT%H:%M:%S%.6f")], separator="|")


def abandoned_carts(events: pl.DataFrame, now: dt.datetime, rules: CartRules) -> pl.DataFrame:
    """Abandoned carts of consenting users at ``now``: cart_id, user_id, times, items, value, currency,
    and ``last_close_at`` (the user's latest close in the window, for the per-user guard)."""
    if events.height == 0:
        return pl.DataFrame(schema={"cart_id": pl.String, "user_id": pl.String})
    ev = events.sort("user_id", "occurred_at").with_columns(
        closes=pl.col("event_type").is_in(CLOSE_EVENTS).cast(pl.Int32)
    )
    # the close event belongs to the cart it closes: epoch = closes before this event
    ev = ev.with_columns(epoch=(pl.col("closes").cum_sum() - pl.col("closes")).over("user_id"))
    users = ev.group_by("user_id").agg(
        consent=pl.col("consent_personalization").sort_by("occurred_at").last(),
        last_close_at=pl.col("occurred_at").filter(pl.col("closes") == 1).max(),
    )
    carts = ev.group_by("user_id", "epoch").agg(
        closed=pl.col("closes").max() == 1,
        started=pl.col("occurred_at").filter(pl.col("event_type") == "add_to_cart").min(),
        last_activity_at=pl.col("occurred_at").filter(pl.col("event_type").is_in(CART_EVENTS)).max(),
        currency=pl.col("currency").filter(pl.col("event_type") == "add_to_cart").drop_nulls().last(),
    )
    signed = pl.when(pl.col("event_type") == "remove_from_cart").then(-1).otherwise(1) * pl.col("quantity")
    items = (
        ev.filter(pl.col("event_type").is_in(CART_EVENTS))
        .group_by("user_id", "epoch", "product_id")
        .agg(
            quantity=signed.sum().cast(pl.Int32),
            price=pl.col("price").drop_nulls().last(),
            category=pl.col("category").drop_nulls().last(),
        )
        .filter(pl.col("quantity") > 0)
        .group_by("user_id", "epoch")
        .agg(
            items=pl.struct("product_id", "category", "quantity", "price").sort_by("product_id"),
            value=(pl.col("quantity") * pl.col("price").fill_null(0.0)).sum().round(2),
            item_count=pl.col("quantity").sum().cast(pl.Int32),
        )
    )
    now_us = pl.lit(now.astimezone(dt.UTC)).cast(TS)
    out = (
        carts.join(items, on=["user_id", "epoch"], how="inner")
        .join(users, on="user_id", how="left")
        .filter(
            ~pl.col("closed")
            & pl.col("started").is_not_null()
            & pl.col("consent").fill_null(False)
            & (pl.col("last_activity_at") <= now_us - pl.duration(minutes=rules.abandon_after_minutes))
            & (pl.col("last_activity_at") >= now_us - pl.duration(hours=rules.max_idle_hours))
        )
    )
    cart_id = _cart_id(pl.col("user_id"), pl.col("started"))
    return out.select(
        cart_id.map_batches(_sha, return_dtype=pl.String).alias("cart_id"),
        "user_id",
        pl.col("started").alias("cart_started_at"),
        "last_activity_at",
        pl.col("items").cast(pl.List(ITEM)),
        "item_count",
        "value",
        "currency",
        "last_close_at",
    ).sort("cart_id")


def _sha(s: pl.Series) -> pl.Series:
    """sha256 hex of each text, in DuckDB (vectorised; polars has no SHA-256)."""
    con = duckdb.connect()
    try:
        con.register("texts", pl.DataFrame({"t": s}).to_arrow())
        return con.sql("SELECT sha256(t) AS h FROM texts").pl()["h"].alias(s.name)
    finally:
        con.close()


def _read(path: Path, schema: pl.Schema) -> pl.DataFrame:
    if not storage.table_exists(path):
        return pl.DataFrame(schema=schema)
    return pl.from_arrow(storage.read_table(path))  # type: ignore[return-value]


def read_outbox(paths: DataPaths) -> pl.DataFrame:
    return _read(paths.table(*OUTBOX), OUTBOX_SCHEMA)


def read_deliveries(paths: DataPaths) -> pl.DataFrame:
    return _read(paths.table(*DELIVERIES), DELIVERY_SCHEMA)


@contextmanager
def _outbox_lock(paths: DataPaths) -> Iterator[None]:
    with file_lock(paths.delta / OUTBOX[0] / ".cart_triggers.lock"):
        yield


Recommender = Callable[[pl.DataFrame, int], pl.DataFrame]


def new_triggers(carts: pl.DataFrame, outbox: pl.DataFrame) -> pl.DataFrame:
    """Carts never triggered: not in the outbox by id, and no trigger of that user since their last close."""
    if carts.height == 0:
        return carts
    fresh = carts.join(outbox.select("cart_id"), on="cart_id", how="anti")
    since_close = (
        fresh.select("user_id", "last_close_at")
        .join(outbox.select("user_id", "cart_started_at"), on="user_id", how="inner")
        .filter(pl.col("last_close_at").is_null() | (pl.col("cart_started_at") > pl.col("last_close_at")))
        .select("user_id")
        .unique()
    )
    return fresh.join(since_close, on="user_id", how="anti")


def record_triggers(
    paths: DataPaths,
    events: pl.DataFrame,
    now: dt.datetime,
    rules: CartRules,
    recommend: Recommender,
    run_id: str,
) -> pl.DataFrame:
    """Find abandoned carts and append the new ones to the outbox (one commit); returns them."""
    carts = abandoned_carts(events, now, rules)
    with _outbox_lock(paths):
        fresh = new_triggers(carts, read_outbox(paths))
        if fresh.height == 0:
            return pl.DataFrame(schema=OUTBOX_SCHEMA)
        recs = recommend(fresh.select("user_id", "items"), rules.recommended_k)
        rows = (
            fresh.join(recs, on="user_id", how="left")
            .with_columns(
                pl.col("recommended_items").fill_null(pl.lit([], dtype=pl.List(pl.String))),
                pl.col("recommendation_source").fill_null("none"),
                triggered_at=pl.lit(now.astimezone(dt.UTC)).cast(TS),
                trigger_run_id=pl.lit(run_id),
            )
            .select(OUTBOX_SCHEMA.names())
            .cast(dict(OUTBOX_SCHEMA))  # type: ignore[arg-type]
        )
        storage.write_partitions(paths.table(*OUTBOX), rows)
    return rows


def pending_deliveries(paths: DataPaths) -> pl.DataFrame:
    """Outbox rows without a successful webhook delivery."""
    done = read_deliveries(paths).filter(pl.col("status") == "delivered").select("cart_id")
    return read_outbox(paths).join(done, on="cart_id", how="anti").sort("triggered_at", "cart_id")


def payload(row: dict[str, Any]) -> dict[str, Any]:
    """The JSON a webhook receives for one trigger."""
    return {
        "type": "abandoned_cart",
        "cart_id": row["cart_id"],
        "user_id": row["user_id"],
        "cart_started_at": row["cart_started_at"].isoformat(),
        "last_activity_at": row["last_activity_at"].isoformat(),
        "items": row["items"],
        "item_count": row["item_count"],
        "value": row["value"],
        "currency": row["currency"],
        "recommended_items": row["recommended_items"],
        "model_version": row["model_version"],
        "triggered_at": row["triggered_at"].isoformat(),
    }


def deliver(
    paths: DataPaths,
    url: str,
    max_attempts: int = 4,
    backoff_seconds: float = 0.5,
    timeout_seconds: float = 5.0,
    headers: dict[str, str] | None = None,
) -> pl.DataFrame:
    """POST each pending trigger (retrying 5xx, 429 and network errors with exponential backoff),
    then record every outcome in the deliveries table (one commit). Returns the outcomes."""
    pending = pending_deliveries(paths)
    outcomes: list[dict[str, Any]] = []
    with httpx.Client(timeout=timeout_seconds) as http:
        for row in pending.iter_rows(named=True):  # one HTTP call per trigger: no vectorised form
            outcomes.append(_post(http, url, row, max_attempts, backoff_seconds, headers or {}))
    result = pl.DataFrame(outcomes, schema=DELIVERY_SCHEMA)
    if result.height:
        storage.write_partitions(paths.table(*DELIVERIES), result)
    return result


def _post(
    http: httpx.Client, url: str, row: dict[str, Any], attempts: int, backoff: float, headers: dict[str, str]
) -> dict[str, Any]:
    status: int | None = None
    error: str | None = None
    for attempt in range(1, attempts + 1):
        try:
            r = http.post(url, json=payload(row), headers={"Idempotency-Key": row["cart_id"], **headers})
            status, error = r.status_code, None if r.is_success else r.text[:200]
            if r.is_success or (400 <= r.status_code < 500 and r.status_code != 429):
                break  # delivered, or refused for good: retrying would not help
        except httpx.HTTPError as exc:
            status, error = None, f"{exc.__class__.__name__}: {exc}"[:200]
        if attempt < attempts:
            time.sleep(backoff * 2 ** (attempt - 1))
    return {
        "cart_id": row["cart_id"],
        "attempted_at": dt.datetime.now(dt.UTC),
        "attempts": attempt,
        "status": "delivered" if status is not None and 200 <= status < 300 else "failed",
        "http_status": status,
        "error": error,
    }


def published_recommender(marts: Path) -> Recommender:
    """Recommended items per cart from the published ``marts.duckdb``: the user's champion
    recommendations (``scores.user_recommendations``) minus what is in the cart, else the most
    bought products of the cart's categories (``mart_product_funnel``). Opened read-only, briefly."""

    def recommend(carts: pl.DataFrame, k: int) -> pl.DataFrame:
        empty = pl.DataFrame(
            schema={
                "user_id": pl.String,
                "recommended_items": pl.List(pl.String),
                "recommendation_source": pl.String,
                "model_version": pl.String,
            }
        )
        if not marts.exists() or carts.height == 0:
            return empty
        cart_items = carts.explode("items").select(
            "user_id",
            pl.col("items").struct.field("product_id").alias("item_id"),
            pl.col("items").struct.field("category").alias("category"),
        )
        con = duckdb.connect(str(marts), read_only=True)
        try:
            con.register("cart_items", cart_items.to_arrow())
            tables = {
                r[0]
                for r in con.execute(
                    "SELECT schema_name || '.' || table_name FROM duckdb_tables()"
                ).fetchall()
            }
            parts = []
            if "scores.user_recommendations" in tables:
                parts.append(
                    """SELECT r.user_id, r.item_id, r.rank AS pos, 'model' AS source, r.model_version
                       FROM scores.user_recommendations r
                       WHERE r.user_id IN (SELECT user_id FROM cart_items)"""
                )
            if "main.mart_product_funnel" in tables:
                parts.append(
                    """SELECT c.user_id, p.product_id AS item_id,
                              1000 + row_number() OVER (PARTITION BY c.user_id
                                  ORDER BY p.purchase_lines DESC, p.views DESC, p.product_id) AS pos,
                              'popular_in_category' AS source, NULL AS model_version
                       FROM (SELECT DISTINCT user_id, category FROM cart_items) c
                       JOIN main.mart_product_funnel p ON p.category = c.category"""
                )
            if not parts:
                return empty
            ranked = con.sql(
                f"""
                WITH cand AS ({" UNION ALL ".join(parts)}),
                kept AS (
                  SELECT * FROM cand
                  WHERE NOT EXISTS (SELECT 1 FROM cart_items ci
                                    WHERE ci.user_id = cand.user_id AND ci.item_id = cand.item_id)
                  QUALIFY row_number() OVER (PARTITION BY user_id, item_id ORDER BY pos) = 1
                )
                SELECT user_id,
                       list(item_id ORDER BY pos)[1:{int(k)}] AS recommended_items,
                       CASE WHEN min(pos) < 1000 THEN 'model' ELSE 'popular_in_category' END
                           AS recommendation_source,
                       max(model_version) AS model_version
                FROM kept GROUP BY user_id
                """
            ).pl()
        finally:
            con.close()
        return ranked.cast({"model_version": pl.String})

    return recommend
