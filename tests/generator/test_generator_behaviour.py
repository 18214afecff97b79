"""Planted behaviour in the clickstream: personas, funnels, churn, the experiment, identities, rhythms."""

from __future__ import annotations

import datetime as dt

import polars as pl
from generator_helpers import START, Generated


def _with_people(generated: Generated) -> pl.DataFrame:
    """Valid unique human events with the person behind each anonymous id (from the truth)."""
    users = generated.truth_table("users").filter(~pl.col("is_bot"))
    devices = users.select(
        "user_id",
        "persona",
        "churned",
        "churn_date",
        "variant",
        pl.col("anonymous_ids").alias("anonymous_id"),
    ).explode("anonymous_id")
    return generated.unique_events.join(devices.rename({"user_id": "person"}), on="anonymous_id", how="inner")


def test_event_types_and_funnel_order(generated: Generated) -> None:
    ev = generated.unique_events
    counts = dict(ev.group_by("event_type").len().iter_rows())
    assert set(counts) == {
        "page_view",
        "product_view",
        "page_ping",
        "search",
        "add_to_cart",
        "remove_from_cart",
        "add_to_wishlist",
        "checkout_started",
        "purchase",
        "refund",
    }
    # a funnel narrows at every step
    assert (
        counts["product_view"] > counts["add_to_cart"] > counts["checkout_started"] > counts["purchase"] > 0
    )
    pings = ev.filter(pl.col("event_type") == "page_ping")
    assert pings["scroll_depth_pct"].is_between(0, 100).all() and (pings["engaged_seconds"] > 0).all()
    searches = ev.filter(pl.col("event_type") == "search")
    assert searches["search_query"].n_unique() > 20
    # every purchase line belongs to an order that was checked out from a cart on the same device
    buys = ev.filter(pl.col("event_type") == "purchase")
    carts = ev.filter(pl.col("event_type") == "add_to_cart").select("anonymous_id", "product_id").unique()
    matched = buys.join(carts, on=["anonymous_id", "product_id"], how="semi")
    assert matched.height > 0.95 * buys.height
    refunds = ev.filter(pl.col("event_type") == "refund")
    assert refunds.join(buys, on=["order_id", "product_id"], how="anti").height == 0
    first_buy = buys.group_by("order_id", "product_id").agg(pl.col("occurred_at").min().alias("bought"))
    delays = refunds.join(first_buy, on=["order_id", "product_id"]).select(
        pl.col("occurred_at") - pl.col("bought")
    )
    assert delays.height > 0 and (delays.to_series().dt.total_hours() >= 48).all()


def test_catalogue_popularity_has_a_long_tail(generated: Generated) -> None:
    views = generated.unique_events.filter(pl.col("event_type") == "product_view")
    per_product = views.group_by("product_id").len().sort("len", descending=True)["len"]
    top = int(per_product.head(max(1, per_product.len() // 10)).sum())
    assert top / per_product.sum() > 0.4  # the top 10% of products get a large share of views
    assert per_product.len() > 300  # while most of the catalogue is seen at least once
    products = generated.truth_table("products")
    assert products["category"].n_unique() == 13
    assert {"coffee_pods", "detergent", "air_filters", "batteries"} <= set(products["category"])
    assert (
        products.group_by("category")
        .agg(pl.col("price_eur").median())
        .filter(pl.col("category") == "electronics")["price_eur"]
        .item()
        > 3 * products.filter(pl.col("category") == "books")["price_eur"].median()
    )


def test_personas_have_distinct_funnels(generated: Generated) -> None:
    ev = _with_people(generated)
    per = (
        ev.group_by("persona")
        .agg(
            (pl.col("event_type") == "page_ping").sum().alias("pings"),
            pl.col("event_type").is_in(["page_view", "product_view"]).sum().alias("pages"),
            (pl.col("event_type") == "add_to_cart").sum().alias("carts"),
            (pl.col("event_type") == "checkout_started").sum().alias("checkouts"),
            (pl.col("event_type") == "purchase").sum().alias("purchases"),
            (pl.col("event_type") == "search").sum().alias("searches"),
            (pl.col("event_type") == "add_to_wishlist").sum().alias("wishes"),
        )
        .with_columns(
            pings_per_page=pl.col("pings") / pl.col("pages"),
            buy_per_cart=pl.col("purchases") / pl.col("carts"),
            search_share=pl.col("searches") / pl.col("pages"),
        )
    )
    p = {row["persona"]: row for row in per.to_dicts()}
    assert set(p) == {"frequent_buyer", "cart_abandoner", "content_explorer", "new_visitor", "bargain_hunter"}
    assert p["content_explorer"]["pings_per_page"] == max(r["pings_per_page"] for r in p.values())
    assert p["frequent_buyer"]["buy_per_cart"] > 2 * p["cart_abandoner"]["buy_per_cart"]
    assert p["bargain_hunter"]["search_share"] == max(r["search_share"] for r in p.values())
    assert p["cart_abandoner"]["carts"] > p["content_explorer"]["carts"]


def test_churners_fade_then_stop_before_their_churn_date(generated: Generated) -> None:
    ev = _with_people(generated).filter(
        pl.col("event_type") != "refund"
    )  # refunds are the shop's, not a visit
    users = generated.truth_table("users").filter(~pl.col("is_bot"))
    churners = users.filter(pl.col("churned"))
    assert churners.height > 20
    assert (churners["churn_date"] > START).all()
    late = ev.filter(pl.col("churned") & (pl.col("occurred_at").dt.date() >= pl.col("churn_date")))
    # only sessions running past midnight (or a skewed device clock) may touch the churn date
    assert late.filter(pl.col("occurred_at").dt.date() > pl.col("churn_date")).height == 0
    c = ev.filter(pl.col("churned")).with_columns(
        frac=(pl.col("occurred_at").dt.date() - pl.lit(START)).dt.total_days()
        / (pl.col("churn_date") - pl.lit(START)).dt.total_days()
    )
    first_half = c.filter(pl.col("frac") < 0.5).height
    last_half = c.filter(pl.col("frac").is_between(0.5, 1.0, closed="left")).height
    assert last_half < 0.75 * first_half
    # nobody else is planted as churned; everyone else still visits late in the window
    loyal = ev.filter(~pl.col("churned") & (pl.col("persona") == "frequent_buyer"))
    assert (
        loyal.filter(pl.col("occurred_at").dt.date() >= START + dt.timedelta(days=21))["person"].n_unique()
        > 20
    )


def test_churners_abandon_more_carts_as_they_fade(generated: Generated) -> None:
    c = (
        _with_people(generated)
        .filter(pl.col("churned"))
        .with_columns(fading=(pl.col("churn_date") - pl.col("occurred_at").dt.date()).dt.total_days() < 10)
    )
    rates = c.group_by("fading").agg(
        ((pl.col("event_type") == "purchase").sum() / (pl.col("event_type") == "add_to_cart").sum()).alias(
            "rate"
        )
    )
    r = dict(rates.iter_rows())
    assert r[True] < r[False]


def test_experiment_treatment_converts_more(generated: Generated) -> None:
    ev = generated.unique_events.filter(pl.col("experiment_id") == "exp-checkout-button")
    assert set(ev["variant"].unique()) == {"control", "treatment"}
    per = (
        ev.group_by("variant")
        .agg(
            (pl.col("event_type") == "checkout_started").sum().alias("checkouts"),
            pl.col("order_id").filter(pl.col("event_type") == "purchase").n_unique().alias("orders"),
        )
        .with_columns(conversion=pl.col("orders") / pl.col("checkouts"))
    )
    conv = dict(per.select("variant", "conversion").iter_rows())
    assert conv["treatment"] > 1.08 * conv["control"]
    truth = generated.truth_table("experiment")
    assert dict(truth.select("variant", "true_uplift").iter_rows()) == {"control": 1.0, "treatment": 1.25}
    assert generated.manifest["experiment"]["true_uplift"] == 1.25
    # assignment is per person: one variant per user id
    assert (
        ev.filter(pl.col("user_id").is_not_null())
        .group_by("user_id")
        .agg(pl.col("variant").n_unique())["variant"]
        .max()
        == 1
    )
    users = generated.truth_table("users")
    joined = (
        ev.filter(pl.col("user_id").is_not_null())
        .select("user_id", "variant")
        .unique()
        .join(users.select("user_id", pl.col("variant").alias("truth")), on="user_id")
    )
    assert (joined["variant"] == joined["truth"]).all()


def test_anonymous_browsing_then_login_and_several_devices(generated: Generated) -> None:
    ev = generated.unique_events.filter(pl.col("event_type") != "refund")
    per_device = (
        ev.sort("occurred_at")
        .group_by("anonymous_id")
        .agg(
            pl.col("user_id").is_null().first().alias("starts_anonymous"),
            pl.col("user_id").drop_nulls().first().alias("user"),
        )
    )
    switched = per_device.filter(pl.col("starts_anonymous") & pl.col("user").is_not_null())
    assert switched.height > 20  # same anonymous id first without, later with a user id
    devices = (
        ev.filter(pl.col("user_id").is_not_null()).group_by("user_id").agg(pl.col("anonymous_id").n_unique())
    )
    assert devices.filter(pl.col("anonymous_id") >= 2).height > 20
    assert set(ev["device_type"].drop_nulls().unique()) == {"desktop", "mobile", "tablet", "other"}
    assert ev["country"].n_unique() >= 10
    assert (
        ev.filter(pl.col("device_type") == "mobile")["user_agent"].str.contains("Mobile|Android|iPhone").all()
    )


def test_daily_and_weekly_rhythm_in_local_time(generated: Generated) -> None:
    ev = generated.unique_events.filter(
        pl.col("event_type").is_in(["page_view", "product_view"])
        & pl.col("user_agent").str.starts_with("Mozilla/5.0 (")
    )
    local = ev.with_columns(local=pl.col("occurred_at") + pl.duration(minutes=pl.col("tz_offset_minutes")))
    hours = dict(local.group_by(pl.col("local").dt.hour()).len().iter_rows())
    night = sum(hours.get(h, 0) for h in (2, 3, 4))
    evening = sum(hours.get(h, 0) for h in (19, 20, 21))
    assert evening > 6 * night
    days = local.group_by(pl.col("local").dt.weekday()).len()
    counts = dict(days.iter_rows())
    assert counts[7] > counts[6]  # Sunday evening shopping beats Saturday


def test_sessions_are_bursts_separated_by_long_gaps(generated: Generated) -> None:
    ev = generated.unique_events.filter(pl.col("event_type") != "refund").sort("anonymous_id", "occurred_at")
    gaps = ev.select(pl.col("occurred_at").diff().over("anonymous_id").dt.total_seconds().alias("gap"))["gap"]
    gaps = gaps.drop_nulls()
    within = gaps.filter(gaps < 30 * 60)
    assert within.median() < 60
    # few gaps sit between 25 and 30 minutes: sessions do not run into each other
    assert gaps.filter((gaps > 25 * 60) & (gaps < 30 * 60)).len() < 0.002 * gaps.len()
    assert gaps.filter(gaps > 30 * 60).len() > 1000
