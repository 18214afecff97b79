"""A five-day clickstream scenario exercising every cleaning, stitching and session rule.

Days are 2026-01-05 (day 1) .. 2026-01-09 (day 5). Events carry ``received_at`` so the scenario
can be delivered day by day (late events land in older event_date partitions, as in production).
Expected values used by the tests are spelled out next to the events that produce them.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from marts_bronze_fixture import clickstream_frame, pseudonym

DAYS = [date(2026, 1, 5) + timedelta(days=n) for n in range(5)]
REFERENCE_DATE = "2026-01-10"
SHOP = "https://shop.example"


def _d(day: int, hms: str) -> str:
    return f"{DAYS[day - 1].isoformat()}T{hms}"


def scenario_events() -> pl.DataFrame:
    """All scenario events as bronze rows (late ones with their late received_at)."""
    ev: list[dict] = []

    def add(device: str | None, day: int, hms: str, event_type: str, **kw: object) -> None:
        ev.append(dict(device=device, occurred_at=_d(day, hms), event_type=event_type, **kw))

    # dA: anonymous browsing, then logs in as alice and buys (stitching: the two anonymous events
    # belong to alice). Landing from google -> channel search. Experiment exp1/control.
    add(
        "dA",
        1,
        "10:00:00",
        "page_view",
        page_url=f"{SHOP}/",
        referrer="https://www.google.com/",
        experiment_id="exp1",
        variant="control",
    )
    add("dA", 1, "10:05:00", "product_view", product_id="p1", category="kitchen", page_url=f"{SHOP}/p/p1")
    add(
        "dA",
        1,
        "10:10:00",
        "add_to_cart",
        user="alice",
        product_id="p1",
        category="kitchen",
        price=20.0,
        quantity=2,
        currency="EUR",
    )
    add(
        "dA",
        1,
        "10:15:00",
        "purchase",
        user="alice",
        product_id="p1",
        category="kitchen",
        price=20.0,
        quantity=2,
        currency="EUR",
        order_id="o1",
    )
    add("dA", 2, "09:00:00", "product_view", product_id="p2", category="books", page_url=f"{SHOP}/p/p2")
    # dB: a session across midnight (day 2 23:50 -> day 3 00:10), bob logs in at the end.
    add(
        "dB",
        2,
        "23:50:00",
        "page_view",
        page_url=f"{SHOP}/?utm_medium=email",
        experiment_id="exp1",
        variant="treatment",
    )
    add("dB", 2, "23:55:00", "page_ping", page_url=f"{SHOP}/", scroll_depth_pct=40.0, engaged_seconds=10.0)
    add("dB", 3, "00:10:00", "product_view", user="bob", product_id="p2", category="books")
    # dC: gap of exactly 30:00 -> new session; then 29:59 -> same session.
    add("dC", 1, "12:00:00", "page_view", page_url=f"{SHOP}/")
    add("dC", 1, "12:30:00", "page_view", page_url=f"{SHOP}/a")
    add("dC", 1, "12:59:59", "page_view", page_url=f"{SHOP}/b")
    # dD: a late add_to_cart (received 2 days later) extends a session; a late event (received the
    # next day) bridges a 50-minute gap, merging two sessions into one.
    add("dD", 3, "14:00:00", "page_view", page_url=f"{SHOP}/")
    add("dD", 3, "14:20:00", "product_view", product_id="p3", category="garden")
    add(
        "dD",
        3,
        "14:40:00",
        "add_to_cart",
        product_id="p3",
        category="garden",
        price=5.0,
        quantity=1,
        currency="EUR",
        received_at=_d(5, "08:00:00"),
    )
    add("dD", 3, "16:00:00", "page_view", page_url=f"{SHOP}/x")
    add("dD", 3, "16:50:00", "page_view", page_url=f"{SHOP}/y")
    add("dD", 3, "16:25:00", "page_view", page_url=f"{SHOP}/late", received_at=_d(4, "07:00:00"))
    # dE: the same event delivered twice, the copy a day later.
    add("dE", 2, "11:00:00", "page_view", page_url=f"{SHOP}/", event_id="dup-1")
    add(
        "dE", 2, "11:00:00", "page_view", page_url=f"{SHOP}/", event_id="dup-1", received_at=_d(3, "09:00:00")
    )
    # dF: a crawler by user agent (2 events).
    add(
        "dF",
        1,
        "08:00:00",
        "page_view",
        page_url=f"{SHOP}/",
        user_agent="Mozilla/5.0 (compatible; Googlebot/2.1)",
    )
    add(
        "dF",
        1,
        "08:00:10",
        "page_view",
        page_url=f"{SHOP}/a",
        user_agent="Mozilla/5.0 (compatible; Googlebot/2.1)",
    )
    # dG: 40 events in one minute on day 4 -> burst bot; its later event that day is excluded too.
    for n in range(40):
        add("dG", 4, f"03:00:{n:02d}", "page_view", page_url=f"{SHOP}/s{n}")
    add("dG", 4, "05:00:00", "page_view", page_url=f"{SHOP}/")
    # No analytics consent: 3 events, null identifiers, aggregate marts only.
    add("dN", 1, "09:00:00", "page_view", page_url=f"{SHOP}/", consent=False)
    add("dN", 2, "09:00:00", "product_view", product_id="p1", category="kitchen", consent=False)
    add(
        "dN",
        2,
        "09:01:00",
        "add_to_cart",
        product_id="p1",
        category="kitchen",
        price=20.0,
        quantity=1,
        currency="EUR",
        consent=False,
    )
    # dK: carol; her latest event withdraws personalisation consent -> not in the interaction matrix.
    add(
        "dK",
        1,
        "15:00:00",
        "product_view",
        user="carol",
        product_id="p4",
        category="toys",
        consent_personalization=True,
    )
    add(
        "dK",
        4,
        "15:00:00",
        "product_view",
        user="carol",
        product_id="p4",
        category="toys",
        consent_personalization=False,
    )
    # dH: outliers (engaged seconds above the cap, absurd quantity); delivered out of order.
    add(
        "dH",
        4,
        "10:00:10",
        "page_ping",
        user="henry",
        page_url=f"{SHOP}/",
        scroll_depth_pct=90.0,
        engaged_seconds=5000.0,
        received_at=_d(4, "10:00:20"),
    )
    add("dH", 4, "10:00:00", "page_view", user="henry", page_url=f"{SHOP}/", received_at=_d(4, "10:00:30"))
    add(
        "dH",
        4,
        "10:01:00",
        "purchase",
        user="henry",
        product_id="p5",
        category="sports",
        price=3.0,
        quantity=50000,
        currency="EUR",
        order_id="o2",
    )
    # dS: a shared device: dave logs in first, erin later; its anonymous event goes to dave.
    add("dS", 1, "18:00:00", "page_view", user="dave", page_url=f"{SHOP}/")
    add("dS", 2, "18:00:00", "page_view", user="erin", page_url=f"{SHOP}/")
    add("dS", 5, "18:00:00", "product_view", product_id="p6", category="beauty")
    return clickstream_frame(ev)


def delivered_on(frame: pl.DataFrame, day: date) -> pl.DataFrame:
    """The bronze rows whose received_at falls on ``day`` (UTC)."""
    return frame.filter(pl.col("received_at").dt.date() == day)


def uid(raw: str) -> str:
    """The pseudonymised id the fixture gives a raw user or device name."""
    return pseudonym(raw)
