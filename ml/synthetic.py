"""Synthetic data with KNOWN structure, for tests and benchmarks.

Each generator plants something a model must find: taste clusters for the recommender, churners
whose activity fades before they leave, a known conversion uplift for the A/B readout. Knowing
the truth is what lets a test fail when a model stops finding it. All vectorised numpy.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from ml.interactions import BOUGHT, ITEM, TS, USER, WEIGHT

CATEGORY_NAMES = (
    "electronics", "kitchen", "home_decor", "garden", "toys", "books", "fashion", "beauty",
    "sports", "coffee_pods", "detergent", "air_filters", "batteries",
)  # fmt: skip
START = dt.datetime(2026, 1, 1)


def _zipf(n: int, s: float) -> np.ndarray:
    p = 1.0 / np.arange(1, n + 1) ** s
    return p / p.sum()


def synthetic_interactions(
    n_users: int = 2000,
    n_items: int = 400,
    n_interactions: int = 60_000,
    n_days: int = 60,
    n_clusters: int = 8,
    taste: float = 0.8,
    seed: int = 0,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(interactions, catalogue) where each user mostly picks items of their own taste cluster.

    With probability ``taste`` an interaction is drawn from the user's cluster (Zipf within it),
    otherwise from global popularity: a personalised model should beat popularity by a margin.
    Clusters map to categories, so per-category fallbacks are meaningful too.
    """
    rng = np.random.default_rng(seed)
    item_cluster = np.arange(n_items) % n_clusters
    order = rng.permutation(n_items)  # item ids are not ordered by cluster or popularity
    per_cluster = [order[item_cluster[order] == c] for c in range(n_clusters)]
    user_cluster = rng.integers(0, n_clusters, n_users)
    activity = rng.lognormal(0.0, 0.8, n_users)
    users = rng.choice(n_users, size=n_interactions, p=activity / activity.sum())
    in_taste = rng.random(n_interactions) < taste
    items = rng.choice(n_items, size=n_interactions, p=_zipf(n_items, 1.0)[np.argsort(order)])
    sizes = np.array([len(p) for p in per_cluster])
    cluster_of = user_cluster[users]
    ranks = np.minimum(
        rng.choice(sizes.max(), size=n_interactions, p=_zipf(int(sizes.max()), 0.9)), sizes[cluster_of] - 1
    )
    lookup = np.full((n_clusters, sizes.max()), -1)
    for c, members in enumerate(per_cluster):
        lookup[c, : len(members)] = members
    items = np.where(in_taste, lookup[cluster_of, ranks], items)
    seconds = rng.integers(0, n_days * 86_400, n_interactions)
    bought = rng.random(n_interactions) < 0.25
    category = np.array(CATEGORY_NAMES)[item_cluster % len(CATEGORY_NAMES)]
    interactions = pl.DataFrame(
        {
            USER: pl.Series([f"u{u:06d}" for u in range(n_users)]).gather(users),
            ITEM: pl.Series([f"sku-{i:05d}" for i in range(n_items)]).gather(items),
            WEIGHT: np.where(bought, 5.0, 1.0).astype(np.float32),
            TS: pl.Series(seconds * 1_000_000, dtype=pl.Int64).cast(pl.Duration("us")) + START,
            BOUGHT: bought,
        }
    )
    catalogue = pl.DataFrame({ITEM: [f"sku-{i:05d}" for i in range(n_items)], "category": category})
    return interactions, catalogue


def synthetic_events(
    n_users: int = 1500,
    n_days: int = 120,
    cutoff_day: int = 90,
    churn_share: float = 0.35,
    seed: int = 1,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(events, truth) with planted churners.

    Churners' session rate fades over the 30 days before ``cutoff_day`` and is zero after it;
    they also abandon carts more and engage less. Stayers keep a steady rate (some are rare
    visitors who go quiet by chance, so labels are not trivially separable). ``truth`` holds
    ``user_id, planted_churner``. Events carry the bronze clickstream columns the features use.
    """
    rng = np.random.default_rng(seed)
    churner = rng.random(n_users) < churn_share
    base_rate = rng.lognormal(np.log(0.25), 0.6, n_users)  # sessions per day
    days = np.arange(n_days)
    fade = np.clip((cutoff_day - days) / 30.0, 0.0, 1.0)  # 1 until 30 days before cutoff, then to 0
    abrupt = rng.random(n_users) < 0.3  # some churners leave without warning
    after = (days >= cutoff_day).astype(float)
    churn_curve = np.where(abrupt[:, None], 1.0 - after[None, :], fade[None, :])
    rate = np.where(churner[:, None], base_rate[:, None] * churn_curve, base_rate[:, None])
    counts = rng.poisson(rate)  # users x days
    sess_user, sess_day = np.nonzero(counts)
    reps = counts[sess_user, sess_day]
    sess_user, sess_day = np.repeat(sess_user, reps), np.repeat(sess_day, reps)
    n_sessions = len(sess_user)
    start = sess_day * 86_400 + rng.integers(0, 86_000 - 4_000, n_sessions)
    n_events = 2 + rng.poisson(np.where(churner[sess_user], 3.5, 4.0))
    ev_session = np.repeat(np.arange(n_sessions), n_events)
    offset = rng.integers(0, 1_500, len(ev_session))
    ev_user = sess_user[ev_session]
    is_churner = churner[ev_user]
    p_cart = np.where(is_churner, 0.13, 0.12)
    p_buy = np.where(is_churner, 0.04, 0.06)
    draw = rng.random(len(ev_session))
    kinds = np.where(
        draw < p_buy,
        "purchase",
        np.where(draw < p_buy + p_cart, "add_to_cart", np.where(draw < 0.55, "product_view", "page_ping")),
    )
    price = np.round(rng.lognormal(np.log(25.0), 0.7, len(ev_session)), 2)
    engaged = np.where(kinds == "page_ping", rng.gamma(2.0, np.where(is_churner, 10.0, 12.0)), np.nan)
    seconds = start[ev_session] + offset
    events = pl.DataFrame(
        {
            "event_id": [f"e{i:09d}" for i in range(len(ev_session))],
            "user_id": pl.Series([f"u{u:06d}" for u in range(n_users)]).gather(ev_user),
            "occurred_at": (
                pl.Series(seconds * 1_000_000, dtype=pl.Int64).cast(pl.Duration("us")) + START
            ).dt.replace_time_zone("UTC"),
            "event_type": kinds,
            "product_id": [f"sku-{i:05d}" for i in rng.integers(0, 300, len(ev_session))],
            "price": np.where(np.isin(kinds, ["purchase", "add_to_cart"]), price, np.nan),
            "quantity": np.where(np.isin(kinds, ["purchase", "add_to_cart"]), 1, 0).astype(np.int32),
            "engaged_seconds": engaged,
        }
    ).with_columns(
        pl.col("price").fill_nan(None),
        pl.col("engaged_seconds").fill_nan(None),
        pl.when(pl.col("event_type") == "purchase")
        .then(pl.format("o-{}", pl.col("event_id")))
        .alias("order_id"),
    )
    truth = pl.DataFrame({"user_id": [f"u{u:06d}" for u in range(n_users)], "planted_churner": churner})
    return events.sort("occurred_at"), truth


def synthetic_experiment(
    n_per_arm: int = 8000,
    base_rate: float = 0.10,
    uplift: float = 0.25,
    revenue_uplift: float = 0.0,
    seed: int = 2,
    experiment_id: str = "exp-checkout-button",
) -> pl.DataFrame:
    """Per-user A/B data: ``experiment_id, variant, user_id, converted, revenue``.

    Treatment converts at ``base_rate * (1 + uplift)``; converters' revenue is log-normal, scaled
    by ``1 + revenue_uplift`` in treatment.
    """
    rng = np.random.default_rng(seed)
    variant = np.repeat(np.array(["control", "treatment"]), n_per_arm)
    p = np.where(variant == "control", base_rate, base_rate * (1 + uplift))
    converted = rng.random(len(variant)) < p
    spend = rng.lognormal(np.log(40.0), 0.6, len(variant)) * np.where(
        variant == "control", 1.0, 1.0 + revenue_uplift
    )
    return pl.DataFrame(
        {
            "experiment_id": experiment_id,
            "variant": variant,
            "user_id": [f"x{i:07d}" for i in range(len(variant))],
            "converted": converted,
            "revenue": np.where(converted, np.round(spend, 2), 0.0),
        }
    )
