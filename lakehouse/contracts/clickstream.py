"""The clickstream event contract.

Names follow the Segment Spec as it lands in a warehouse (snake_case: ``event_id`` for
``messageId``, ``user_id``/``anonymous_id`` for ``userId``/``anonymousId``, ``received_at``
for ``receivedAt``, ``occurred_at`` for ``originalTimestamp``), with e-commerce properties
flattened (``product_id``, ``category``, ``price``, ``quantity``, ``currency``, ``order_id``)
and Snowplow's page-ping model for engagement (``scroll_depth_pct``, ``engaged_seconds``).
One purchase event is one order line, as in most order exports.
"""

from __future__ import annotations

import polars as pl

from lakehouse.contracts.model import TIMESTAMP, Contract, Field, Rule

EVENT_TYPES: tuple[str, ...] = (
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
)
DEVICE_TYPES: tuple[str, ...] = ("desktop", "mobile", "tablet", "other")

#: Events whose ``occurred_at`` is more than this ahead of ``received_at`` are impossible
#: (a device clock may be off by minutes or hours, not by days).
MAX_CLOCK_AHEAD = "1d"
#: Nothing before this instant is Beacon data: it is a zeroed or garbled clock.
EARLIEST = "2000-01-01T00:00:00+00:00"

_type = pl.col("event_type")

# event type -> fields that event type must carry
REQUIRED_BY_TYPE: dict[str, tuple[str, ...]] = {
    "page_view": ("page_url",),
    "page_ping": ("page_url", "scroll_depth_pct", "engaged_seconds"),
    "product_view": ("product_id",),
    "search": ("search_query",),
    "add_to_cart": ("product_id", "price", "quantity", "currency"),
    "remove_from_cart": ("product_id", "quantity"),
    "add_to_wishlist": ("product_id",),
    "purchase": ("order_id", "product_id", "price", "quantity", "currency"),
    "refund": ("order_id", "product_id", "price", "quantity", "currency"),
}


def _required_for_types() -> list[Rule]:
    by_field: dict[str, list[str]] = {}
    for event_type, names in REQUIRED_BY_TYPE.items():
        for name in names:
            by_field.setdefault(name, []).append(event_type)
    return [
        Rule(
            code="missing_field",
            field=name,
            violated=_type.is_in(types) & pl.col(name).is_null(),
            message=pl.format("{} events need {}", _type, pl.lit(name)),
            doc=f"required for {', '.join(types)} events",
        )
        for name, types in by_field.items()
    ]


def _range(name: str, low: float | None, high: float | None, what: str) -> Rule:
    col = pl.col(name)
    bad = pl.lit(False)
    if low is not None:
        bad = bad | (col < low)
    if high is not None:
        bad = bad | (col > high)
    return Rule(
        "out_of_range",
        name,
        bad,
        pl.format("value {} is outside {}", col.cast(pl.String), pl.lit(what)),
        doc=f"must be {what}",
    )


CLICKSTREAM = Contract(
    name="clickstream_event",
    description="One behavioural event sent by a shop's web or app tracker, or by its server.",
    spec_name="Segment Spec (warehouse column names) with Snowplow page pings",
    key="event_id",
    time_field="occurred_at",
    fields=(
        Field(
            "event_id",
            pl.String,
            "Unique id of the event, set by the sender; duplicates are re-deliveries.",
            required=True,
            spec="messageId",
            example="0f8fad5b-d9cb-469f-a165-70867728950e",
        ),
        Field(
            "event_type",
            pl.String,
            "What happened.",
            required=True,
            allowed=EVENT_TYPES,
            spec="event",
            example="add_to_cart",
        ),
        Field(
            "user_id",
            pl.String,
            "Logged-in user id; null while browsing anonymously.",
            spec="userId",
            example="u000123",
        ),
        Field(
            "anonymous_id",
            pl.String,
            "Device or cookie id, present on every event.",
            required=True,
            spec="anonymousId",
            example="a-7f3c9e",
        ),
        Field(
            "occurred_at",
            TIMESTAMP,
            "When it happened on the device, ISO-8601 with its UTC offset.",
            required=True,
            spec="originalTimestamp",
            example="2026-01-05T10:00:00.125+01:00",
        ),
        Field(
            "received_at",
            TIMESTAMP,
            "When the collector received it (UTC).",
            required=True,
            spec="receivedAt",
            example="2026-01-05T09:00:01.002Z",
        ),
        Field(
            "page_url",
            pl.String,
            "Page URL; required for page views and pings.",
            spec="context.page.url",
            example="https://shop.example/p/sku-0042",
        ),
        Field(
            "referrer",
            pl.String,
            "Referring URL.",
            spec="context.page.referrer",
            example="https://www.google.com/",
        ),
        Field(
            "product_id",
            pl.String,
            "Product (SKU) concerned.",
            spec="properties.product_id",
            example="sku-0042",
        ),
        Field("category", pl.String, "Product category.", spec="properties.category", example="kitchen"),
        Field("price", pl.Float64, "Unit price, in `currency`.", spec="properties.price", example=12.5),
        Field(
            "quantity",
            pl.Int32,
            "Units; positive for carts, purchases and refunds.",
            spec="properties.quantity",
            example=2,
        ),
        Field("currency", pl.String, "ISO-4217 code.", spec="properties.currency", example="EUR"),
        Field(
            "order_id",
            pl.String,
            "Order the purchase or refund line belongs to.",
            spec="properties.order_id",
            example="o-000981",
        ),
        Field("search_query", pl.String, "What was searched for.", spec="properties.query", example="kettle"),
        Field(
            "scroll_depth_pct",
            pl.Float64,
            "Deepest scroll in the page so far, 0-100 (page pings).",
            spec="Snowplow page_ping pp_yoffset_max",
            example=65.0,
        ),
        Field(
            "engaged_seconds",
            pl.Float64,
            "Seconds of engagement since the last ping (page pings).",
            spec="Snowplow heartbeat",
            example=10.0,
        ),
        Field(
            "device_type",
            pl.String,
            "Device class.",
            allowed=DEVICE_TYPES,
            spec="context.device.type",
            example="mobile",
        ),
        Field(
            "user_agent",
            pl.String,
            "Browser user agent.",
            spec="context.userAgent",
            example="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
        ),
        Field(
            "country", pl.String, "ISO-3166 alpha-2 country.", spec="context.location.country", example="DE"
        ),
        Field(
            "consent_analytics",
            pl.Boolean,
            "Consent to analytics at the time of the event.",
            required=True,
            spec="context.consent.categoryPreferences.analytics",
            example=True,
        ),
        Field(
            "consent_personalization",
            pl.Boolean,
            "Consent to personalisation at the time of the event.",
            required=True,
            spec="context.consent.categoryPreferences.personalization",
            example=True,
        ),
        Field(
            "experiment_id",
            pl.String,
            "A/B experiment the user is in, if any.",
            spec="properties.experiment_id",
            example="exp-checkout-button",
        ),
        Field(
            "variant",
            pl.String,
            "Variant of that experiment.",
            spec="properties.variation_name",
            example="treatment",
        ),
    ),
    rules=(
        *_required_for_types(),
        _range("price", 0, None, ">= 0"),
        _range("scroll_depth_pct", 0, 100, "0..100"),
        _range("engaged_seconds", 0, None, ">= 0"),
        Rule(
            "out_of_range",
            "quantity",
            _type.is_in(["add_to_cart", "remove_from_cart", "purchase", "refund"])
            & (pl.col("quantity") <= 0),
            pl.format(
                "{} events need a positive quantity, got {}", _type, pl.col("quantity").cast(pl.String)
            ),
            doc="must be > 0 for cart, purchase and refund events (a refund is a positive quantity returned)",
        ),
        Rule(
            "bad_format",
            "currency",
            pl.col("currency").str.contains(r"^[A-Z]{3}$").not_(),
            pl.format("'{}' is not an ISO-4217 code like EUR", pl.col("currency")),
            doc="three capital letters (ISO-4217)",
        ),
        Rule(
            "bad_format",
            "country",
            pl.col("country").str.contains(r"^[A-Z]{2}$").not_(),
            pl.format("'{}' is not an ISO-3166 alpha-2 code like DE", pl.col("country")),
            doc="two capital letters (ISO-3166 alpha-2)",
        ),
        Rule(
            "incomplete_pair",
            "variant",
            pl.col("experiment_id").is_null() != pl.col("variant").is_null(),
            "experiment_id and variant come together or not at all",
        ),
        Rule(
            "impossible_timestamp",
            "occurred_at",
            (pl.col("occurred_at") < pl.lit(EARLIEST).str.to_datetime(time_unit="us", time_zone="UTC"))
            | (pl.col("occurred_at") > pl.col("received_at").dt.offset_by(MAX_CLOCK_AHEAD)),
            pl.format(
                "occurred_at {} is before 2000 or more than a day after received_at {}",
                pl.col("occurred_at").cast(pl.String),
                pl.col("received_at").cast(pl.String),
            ),
            doc=f"not before {EARLIEST[:10]} and not more than {MAX_CLOCK_AHEAD} after received_at (clock skew tolerance)",
        ),
    ),
)
