"""Clean bronze, ledger and mart frames for the quality tests (small, deterministic, vectorised).

Built from the contracts and the bronze schema so a change there shows up here; every frame
passes every check, and each violation test breaks exactly one thing in a copy.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from lakehouse.contracts import CLICKSTREAM, EVENT_TYPES, SENSORS
from lakehouse.landing.schemas import bronze_schema
from lakehouse.pseudonymise import pseudonymise_value

KEY = "beacon-test-key-0123456789abcdef"
DAY = dt.date(2026, 1, 5)
LANDED_AT = dt.datetime(2026, 1, 6, 2, 0, tzinfo=dt.UTC)


def pseudonym(raw: str) -> str:
    return pseudonymise_value(raw, KEY)


def clickstream_frame(n_per_type: int = 2, day: dt.date = DAY) -> pl.DataFrame:
    """Bronze clickstream rows: every event type, all fields its type needs, consent mixed."""
    rows = []
    start = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)
    i = 0
    for event_type in EVENT_TYPES:
        for k in range(n_per_type):
            consent = not (event_type == "page_view" and k == 0)
            occurred = start + dt.timedelta(minutes=3 * i)
            commerce = event_type in ("add_to_cart", "remove_from_cart", "purchase", "refund")
            rows.append(
                {
                    "event_id": f"e-{day:%Y%m%d}-{i:05d}",
                    "event_type": event_type,
                    "user_id": pseudonym(f"u{k:04d}") if consent else None,
                    "anonymous_id": pseudonym(f"a-{k:04d}") if consent else None,
                    "occurred_at": occurred,
                    "received_at": occurred + dt.timedelta(seconds=2),
                    "page_url": f"https://shop.example/p/{i}",
                    "referrer": None,
                    "product_id": f"sku-{k:04d}"
                    if event_type not in ("page_view", "page_ping", "search", "checkout_started")
                    else None,
                    "category": "kitchen",
                    "price": 12.5 if commerce else None,
                    "quantity": 2 if commerce else None,
                    "currency": "EUR" if commerce else None,
                    "order_id": f"o-{k:05d}" if event_type in ("purchase", "refund") else None,
                    "search_query": "kettle" if event_type == "search" else None,
                    "scroll_depth_pct": 50.0 if event_type == "page_ping" else None,
                    "engaged_seconds": 10.0 if event_type == "page_ping" else None,
                    "device_type": "mobile",
                    "user_agent": "Mozilla/5.0",
                    "country": "DE",
                    "consent_analytics": consent,
                    "consent_personalization": consent,
                    "experiment_id": None,
                    "variant": None,
                    "tz_offset_minutes": 60,
                    "event_date": day,
                    "_source_file": f"clickstream/{day}/events-{day}-000.jsonl.gz",
                    "_source_line": i + 1,
                    "_landed_at": LANDED_AT,
                    "_landing_run_id": "run-1",
                }
            )
            i += 1
    return pl.DataFrame(rows, schema=bronze_schema(CLICKSTREAM))


#: (sensor_type, unit, value) of a clean reading per type
SENSOR_VALUES = [
    ("temperature", "C", 21.5),
    ("humidity", "%", 45.0),
    ("light", "lux", 300.0),
    ("co2", "ppm", 612.0),
    ("motion", "bool", 1.0),
    ("door", "bool", 0.0),
    ("occupancy", "bool", 1.0),
    ("power", "W", 40.0),
    ("energy", "Wh", 1200.0),
    ("pressure", "hPa", 1013.0),
    ("pressure", "mmHg", 760.0),
    ("wind_speed", "m/s", 3.0),
    ("visibility", "km", 20.0),
]


def sensor_frame(day: dt.date = DAY, hours: int = 2) -> pl.DataFrame:
    """Bronze sensor readings: one per (type, unit) and hour, for two homes."""
    rows = []
    start = dt.datetime.combine(day, dt.time(6), tzinfo=dt.UTC)
    i = 0
    for h in range(hours):
        for home in ("h0001", "h0002"):
            for sensor_type, unit, value in SENSOR_VALUES:
                rows.append(
                    {
                        "reading_id": f"r-{day:%Y%m%d}-{i:05d}",
                        "home_id": pseudonym(home),
                        "device_id": f"{sensor_type}_sensor-{i % 7:06x}",
                        "room": "kitchen",
                        "sensor_type": sensor_type,
                        "value": value,
                        "unit": unit,
                        "occurred_at": start + dt.timedelta(hours=h),
                        "user_id": pseudonym("u0001") if home == "h0001" else None,
                        "tz_offset_minutes": 60,
                        "event_date": day,
                        "_source_file": f"sensors/{day}/readings-{day}-000.csv.gz",
                        "_source_line": i + 2,
                        "_landed_at": LANDED_AT,
                        "_landing_run_id": "run-1",
                    }
                )
                i += 1
    return pl.DataFrame(rows, schema=bronze_schema(SENSORS))


def revenue_bronze_frame() -> pl.DataFrame:
    """Clean clickstream plus a bot purchase and an outlier purchase, both excluded from revenue.

    Net revenue on DAY: purchases 2 x 12.5 x 2 = 50 EUR, refunds 2 x 12.5 x 1 = 25 EUR -> 25 EUR.
    """
    base = clickstream_frame().with_columns(
        quantity=pl.when(pl.col("event_type") == "refund")
        .then(1)
        .otherwise(pl.col("quantity"))
        .cast(pl.Int32)
    )
    purchase = base.filter(pl.col("event_type") == "purchase").head(1)
    bot = purchase.with_columns(
        event_id=pl.lit("e-bot"), user_agent=pl.lit("Googlebot/2.1"), price=pl.lit(999.0)
    )
    outlier = purchase.with_columns(event_id=pl.lit("e-outlier"), quantity=pl.lit(5000, pl.Int32))
    return pl.concat([base, bot, outlier])


SESSION_PURCHASES = 50.0
NET_REVENUE = 25.0
BOT_UA = "(?i)(bot|crawler|spider)"


def mart_tables() -> dict[str, pl.DataFrame]:
    """A clean build consistent with :func:`revenue_bronze_frame`: staging events, one session per device
    covering its events, users with their revenue and refunds, and RFM rows."""
    bronze = revenue_bronze_frame()
    events = bronze.select(
        "event_id",
        "event_type",
        "anonymous_id",
        "user_id",
        pl.col("occurred_at").dt.replace_time_zone(None),
        (
            pl.col("consent_analytics")
            & pl.col("anonymous_id").is_not_null()
            & ~pl.col("user_agent").str.contains(BOT_UA)
        ).alias("is_behavioural"),
        pl.when(pl.col("event_type").is_in(["purchase", "refund"]) & (pl.col("quantity") <= 1000))
        .then(pl.col("price") * pl.col("quantity"))
        .alias("line_amount_eur"),
    )
    behavioural = events.filter("is_behavioural")
    sessions = (
        behavioural.group_by("anonymous_id")
        .agg(
            pl.col("occurred_at").min().alias("session_start_at"),
            ((pl.col("occurred_at").max() - pl.col("occurred_at").min()).dt.total_seconds())
            .cast(pl.Float64)
            .alias("duration_seconds"),
            pl.col("line_amount_eur").filter(pl.col("event_type") == "purchase").sum().alias("revenue_eur"),
        )
        .with_columns(
            ("s-" + pl.col("anonymous_id").str.slice(0, 12)).alias("session_id"),
            pl.min_horizontal(pl.col("duration_seconds"), pl.lit(10.0)).alias("engaged_seconds"),
        )
        .sort("session_id")
    )
    users = (
        behavioural.filter(pl.col("user_id").is_not_null())
        .group_by("user_id")
        .agg(
            pl.col("line_amount_eur").filter(pl.col("event_type") == "purchase").sum().alias("revenue_eur"),
            pl.col("line_amount_eur").filter(pl.col("event_type") == "refund").sum().alias("refunds_eur"),
        )
        .sort("user_id")
    )
    rfm = pl.DataFrame(
        {
            "user_id": ["u1", "u2", "u3"],
            "r_score": [5, 1, 3],
            "f_score": [4, 2, 3],
            "m_score": [3, 1, 5],
            "segment": ["Potential loyalist", "Hibernating", "Need attention"],
        }
    )
    return {
        "staging.stg_clickstream__events": events,
        "marts.fct_sessions": sessions,
        "marts.dim_users": users,
        "marts.mart_rfm": rfm,
    }


def write_build(path: object, extra_sql: str = "") -> None:
    """Write the clean build DuckDB file (then ``extra_sql``, e.g. a violation)."""
    import duckdb

    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists staging; create schema if not exists marts")
        for name, frame in mart_tables().items():
            con.register("frame", frame.to_arrow())
            con.execute(f"create or replace table {name} as select * from frame")
            con.unregister("frame")
        if extra_sql:
            con.execute(extra_sql)
