"""Bronze Delta tables for the smart-home marts, with planted truths.

Two homes over two weeks (Monday 2026-01-05 to Sunday 2026-01-18, UTC), built from a planted
room occupancy (local time) so the tests can check the marts against what was planted:

- home A (UTC+1, linked shopper): living room (motion, CO2, light, temperature), bedroom (motion,
  CO2), kitchen (coffee machine and washing machine power, fridge energy meter, door sensor).
  Living room occupied on weekdays 07-08 and 18-23 local (except the second Wednesday evening),
  on weekends 10-22; bedroom 23-07 every night.
- home B (UTC-5, no shopper): office (motion, CO2) occupied on weekdays 09-17 local.

Sensors follow the occupancy: CO2 is high in occupied hours, decays for one hour after, else at
its baseline; motion fires twice per occupied hour (bedroom: only when going to bed and getting
up, so CO2 must carry the night); the living-room light is on in occupied non-daylight hours.
Appliance cycles, purchases and the energy meter are planted with hand-computable values.
Everything is vectorised polars (no loops over rows); the schema is the landing's own bronze
schema, so the fixture cannot drift from what landing writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from deltalake import write_deltalake

from lakehouse.contracts import CLICKSTREAM, SENSORS
from lakehouse.landing.schemas import PARTITION_COLUMN, bronze_schema, cast_to
from lakehouse.pseudonymise import pseudonymise_columns, pseudonymise_value

START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)  # a Monday
DAYS = 14
REFERENCE_DATE = dt.date(2026, 1, 19)

#: HMAC key the fixture pseudonymises with (dbt never sees raw ids, any key works).
FIXTURE_KEY = "smart-home-fixture-key-0123456789"
HOME_A, HOME_B = "h-fixture-a", "h-fixture-b"
USER_A, USER_OTHER = "u-fixture-a", "u-fixture-other"
OFFSETS = {HOME_A: 60, HOME_B: -300}

CO2_BASE, CO2_OCCUPIED, CO2_DECAY = 430.0, 900.0, 600.0
LUX_DAYLIGHT, LUX_LAMP = 300.0, 200.0
DAYLIGHT_HOURS = range(8, 16)  # local hours with daylight in the living room

COFFEE_WATTS, COFFEE_STANDBY_WATTS = 1200.0, 2.0
COFFEE_HOURS_UTC = (6, 13)
COFFEE_EXTRA_HOUR_UTC, COFFEE_EXTRA_FROM = 18, dt.date(2026, 1, 12)
COFFEE_READINGS_PER_CYCLE = 2  # at :00 and :05
WASH_HOUR_UTC = 10
WASH_BASE = (500.0, 12)  # watts, 5-minute readings per cycle
WASH_DEGRADED = (600.0, 16)
WASH_DEGRADED_FROM = dt.date(2026, 1, 12)
POWER_STEP_MINUTES = 5
FRIDGE_WH_PER_HOUR, FRIDGE_START_WH = 50.0, 10_000.0

DEVICES = {  # device_id -> (home, room, sensor_type)
    "motion_sensor-aa0001": (HOME_A, "living_room", "motion"),
    "co2_sensor-aa0002": (HOME_A, "living_room", "co2"),
    "light_sensor-aa0003": (HOME_A, "living_room", "light"),
    "thermostat-aa000a": (HOME_A, "living_room", "temperature"),
    "motion_sensor-aa0004": (HOME_A, "bedroom", "motion"),
    "co2_sensor-aa0005": (HOME_A, "bedroom", "co2"),
    "coffee_machine-aa0006": (HOME_A, "kitchen", "power"),
    "washing_machine-aa0007": (HOME_A, "kitchen", "power"),
    "fridge-aa0008": (HOME_A, "kitchen", "energy"),
    "door_sensor-aa0009": (HOME_A, "kitchen", "door"),
    "motion_sensor-bb0001": (HOME_B, "office", "motion"),
    "co2_sensor-bb0002": (HOME_B, "office", "co2"),
}
UNIT = {
    "motion": "bool",
    "door": "bool",
    "co2": "ppm",
    "light": "lux",
    "temperature": "C",
    "power": "W",
    "energy": "Wh",
}


@dataclass(frozen=True)
class Purchase:
    """One planted purchase line (raw user id, local date = UTC date at 10:00 UTC)."""

    user: str | None
    category: str
    day: dt.date
    quantity: int


PURCHASES: tuple[Purchase, ...] = (
    Purchase(USER_A, "coffee_pods", dt.date(2026, 1, 5), 1),
    Purchase(USER_A, "coffee_pods", dt.date(2026, 1, 9), 4),
    Purchase(USER_A, "detergent", dt.date(2026, 1, 5), 1),
    Purchase(USER_A, "detergent", dt.date(2026, 1, 11), 1),
    Purchase(USER_A, "batteries", dt.date(2026, 1, 6), 1),
    Purchase(USER_A, "electronics", dt.date(2026, 1, 7), 1),  # not a consumable
    Purchase(USER_OTHER, "coffee_pods", dt.date(2026, 1, 8), 3),  # not linked to a home
    Purchase(None, "coffee_pods", dt.date(2026, 1, 8), 2),  # no analytics consent
)


@dataclass
class Fixture:
    """Where the tables were written and the pseudonyms the marts will show."""

    root: Path
    key: str
    home_ids: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, str] = field(default_factory=dict)


def _hours() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "hour_start": pl.datetime_range(
                START,
                START + dt.timedelta(days=DAYS),
                "1h",
                closed="left",
                time_unit="us",
                time_zone="UTC",
                eager=True,
            )
        }
    )


def true_occupancy() -> pl.DataFrame:
    """Planted occupancy per (raw home, room, UTC hour), with the local weekday and hour."""
    rooms = pl.DataFrame({"home": [HOME_A, HOME_A, HOME_B], "room": ["living_room", "bedroom", "office"]})
    grid = rooms.join(_hours(), how="cross").with_columns(
        pl.col("home").replace_strict(OFFSETS, return_dtype=pl.Int32).alias("offset")
    )
    local = pl.col("hour_start").dt.replace_time_zone(None) + pl.duration(minutes=pl.col("offset"))
    grid = grid.with_columns(
        local.dt.weekday().alias("weekday"),
        local.dt.hour().alias("local_hour"),
        local.dt.date().alias("local_date"),
    )
    h, wd = pl.col("local_hour"), pl.col("weekday")
    workday = wd <= 5
    second_wednesday = pl.col("local_date") == dt.date(2026, 1, 14)
    living = (
        pl.when(workday)
        .then((h == 7) | (h.is_between(18, 22) & ~second_wednesday))
        .otherwise(h.is_between(10, 21))
    )
    bedroom = (h == 23) | (h <= 6)
    office = workday & h.is_between(9, 16)
    occupied = (
        pl.when(pl.col("room") == "living_room")
        .then(living)
        .when(pl.col("room") == "bedroom")
        .then(bedroom)
        .otherwise(office)
    )
    return grid.with_columns(occupied.alias("occupied")).sort("home", "room", "hour_start")


def _at(frame: pl.DataFrame, minutes: list[int], value: pl.Expr) -> pl.DataFrame:
    """One reading per row of ``frame`` and minute offset, with ``value``."""
    return (
        frame.join(pl.DataFrame({"minute": minutes}), how="cross")
        .with_columns((pl.col("hour_start") + pl.duration(minutes=pl.col("minute"))).alias("occurred_at"))
        .with_columns(value.cast(pl.Float64).alias("value"))
    )


def _room_sensor_readings(truth: pl.DataFrame) -> pl.DataFrame:
    t = truth.sort("home", "room", "hour_start").with_columns(
        pl.col("occupied").shift(1).over("home", "room").fill_null(False).alias("was_occupied")
    )
    co2 = _at(
        t,
        list(range(0, 60, 10)),
        pl.when(pl.col("occupied"))
        .then(CO2_OCCUPIED + (pl.col("minute") % 20) / 10)
        .when(pl.col("was_occupied"))
        .then(CO2_DECAY)
        .otherwise(CO2_BASE),
    )
    co2 = co2.with_columns(pl.lit("co2").alias("sensor_type"))
    living = t.filter(pl.col("room") == "living_room")
    light = _at(
        living,
        list(range(0, 60, 10)),
        pl.when(pl.col("local_hour").is_in(list(DAYLIGHT_HOURS)))
        .then(LUX_DAYLIGHT)
        .when(pl.col("occupied"))
        .then(LUX_LAMP)
        .otherwise(0.0),
    ).with_columns(pl.lit("light").alias("sensor_type"))
    temp = _at(living, list(range(0, 60, 10)), 20.0 + pl.col("minute") / 100).with_columns(
        pl.lit("temperature").alias("sensor_type")
    )
    awake_motion = t.filter(pl.col("occupied") & (pl.col("room") != "bedroom"))
    bedtime_motion = t.filter(
        pl.col("occupied") & (pl.col("room") == "bedroom") & pl.col("local_hour").is_in([23, 6])
    )
    motion = pl.concat(
        [
            _at(awake_motion, [5, 35], pl.lit(1)),
            _at(awake_motion, [10, 40], pl.lit(0)),
            _at(bedtime_motion, [20], pl.lit(1)),
            _at(bedtime_motion, [25], pl.lit(0)),
        ]
    ).with_columns(pl.lit("motion").alias("sensor_type"))
    cols = ["home", "room", "sensor_type", "occurred_at", "value"]
    return pl.concat([f.select(cols) for f in (co2, light, temp, motion)])


def coffee_cycle_starts() -> pl.DataFrame:
    """Planted coffee cycles (UTC start), 2 a day, 3 a day from COFFEE_EXTRA_FROM."""
    days = pl.date_range(START.date(), START.date() + dt.timedelta(days=DAYS - 1), eager=True).to_frame("day")
    hours = days.join(pl.DataFrame({"hour": [*COFFEE_HOURS_UTC, COFFEE_EXTRA_HOUR_UTC]}), how="cross").filter(
        (pl.col("hour") != COFFEE_EXTRA_HOUR_UTC) | (pl.col("day") >= COFFEE_EXTRA_FROM)
    )
    return hours.select(
        (pl.col("day").cast(pl.Datetime("us")) + pl.duration(hours=pl.col("hour")))
        .dt.replace_time_zone("UTC")
        .alias("cycle_start"),
        "day",
    )


def wash_cycles() -> pl.DataFrame:
    """Planted washing cycles: every other day from the first, degraded from WASH_DEGRADED_FROM."""
    days = pl.date_range(START.date(), START.date() + dt.timedelta(days=DAYS - 1), "2d", eager=True).to_frame(
        "day"
    )
    degraded = pl.col("day") >= WASH_DEGRADED_FROM
    return days.with_columns(
        (pl.col("day").cast(pl.Datetime("us")) + pl.duration(hours=WASH_HOUR_UTC))
        .dt.replace_time_zone("UTC")
        .alias("cycle_start"),
        pl.when(degraded).then(WASH_DEGRADED[0]).otherwise(WASH_BASE[0]).alias("watts"),
        pl.when(degraded).then(WASH_DEGRADED[1]).otherwise(WASH_BASE[1]).alias("readings"),
    )


def _power_grid() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "occurred_at": pl.datetime_range(
                START,
                START + dt.timedelta(days=DAYS),
                f"{POWER_STEP_MINUTES}m",
                closed="left",
                time_unit="us",
                time_zone="UTC",
                eager=True,
            )
        }
    )


def _appliance_readings() -> pl.DataFrame:
    grid = _power_grid()
    step = pl.duration(minutes=POWER_STEP_MINUTES)
    coffee_on = (
        coffee_cycle_starts()
        .join(pl.DataFrame({"k": list(range(COFFEE_READINGS_PER_CYCLE))}), how="cross")
        .select(
            (pl.col("cycle_start") + step * pl.col("k")).alias("occurred_at"),
            pl.lit(COFFEE_WATTS).alias("on"),
        )
    )
    coffee = grid.join(coffee_on, on="occurred_at", how="left").select(
        "occurred_at",
        pl.col("on").fill_null(COFFEE_STANDBY_WATTS).alias("value"),
        pl.lit("coffee_machine-aa0006").alias("device_id"),
    )
    wash_on = (
        wash_cycles()
        .with_columns(pl.int_ranges(0, pl.col("readings")).alias("k"))
        .explode("k")
        .select(
            (pl.col("cycle_start") + step * pl.col("k")).alias("occurred_at"), pl.col("watts").alias("on")
        )
    )
    wash = grid.join(wash_on, on="occurred_at", how="left").select(
        "occurred_at",
        pl.col("on").fill_null(0.0).alias("value"),
        pl.lit("washing_machine-aa0007").alias("device_id"),
    )
    fridge = (
        _hours()
        .with_row_index("i")
        .select(
            (pl.col("hour_start") + pl.duration(minutes=30)).alias("occurred_at"),
            (FRIDGE_START_WH + FRIDGE_WH_PER_HOUR * pl.col("i").cast(pl.Float64)).alias("value"),
            pl.lit("fridge-aa0008").alias("device_id"),
        )
    )
    days = _hours().filter(pl.col("hour_start").dt.hour() == 8)
    door = pl.concat(
        [
            days.select(pl.col("hour_start").alias("occurred_at"), pl.lit(1.0).alias("value")),
            days.select(
                (pl.col("hour_start") + pl.duration(minutes=2)).alias("occurred_at"),
                pl.lit(0.0).alias("value"),
            ),
        ]
    ).with_columns(pl.lit("door_sensor-aa0009").alias("device_id"))
    return pl.concat([coffee, wash, fridge, door], how="vertical_relaxed")


def sensor_frame(key: str) -> pl.DataFrame:
    """All planted readings in the bronze ``sensor_readings`` schema (pseudonymised ids)."""
    device_room = pl.DataFrame(
        {
            "device_id": list(DEVICES),
            "home": [v[0] for v in DEVICES.values()],
            "room": [v[1] for v in DEVICES.values()],
            "sensor_type": [v[2] for v in DEVICES.values()],
        }
    )
    rooms = _room_sensor_readings(true_occupancy()).join(device_room, on=["home", "room", "sensor_type"])
    appliances = _appliance_readings().join(device_room, on="device_id")
    readings = pl.concat([rooms.select(sorted(rooms.columns)), appliances.select(sorted(rooms.columns))])
    readings = readings.sort("occurred_at", "device_id").with_row_index("n")
    frame = readings.select(
        pl.format("r-{}", pl.col("n")).alias("reading_id"),
        pl.col("home").alias("home_id"),
        "device_id",
        "room",
        "sensor_type",
        "value",
        pl.col("sensor_type").replace_strict(UNIT, return_dtype=pl.String).alias("unit"),
        "occurred_at",
        pl.when(pl.col("home") == HOME_A).then(pl.lit(USER_A)).otherwise(None).alias("user_id"),
        pl.col("home").replace_strict(OFFSETS, return_dtype=pl.Int32).alias("tz_offset_minutes"),
        pl.col("occurred_at").dt.date().alias(PARTITION_COLUMN),
        pl.lit("fixture/sensors.csv.gz").alias("_source_file"),
        pl.col("n").cast(pl.Int64).alias("_source_line"),
        pl.lit(dt.datetime(2026, 1, 20, tzinfo=dt.UTC)).dt.cast_time_unit("us").alias("_landed_at"),
        pl.lit("fixture-run").alias("_landing_run_id"),
    )
    return pseudonymise_columns(frame, ["home_id", "user_id"], key)


def clickstream_frame(key: str) -> pl.DataFrame:
    """The planted purchases in the bronze ``clickstream_events`` schema."""
    p = pl.DataFrame(
        {
            "user": [x.user for x in PURCHASES],
            "category": [x.category for x in PURCHASES],
            "day": [x.day for x in PURCHASES],
            "quantity": [x.quantity for x in PURCHASES],
        },
        schema={"user": pl.String, "category": pl.String, "day": pl.Date, "quantity": pl.Int32},
    ).with_row_index("n")
    at = (pl.col("day").cast(pl.Datetime("us")) + pl.duration(hours=10)).dt.replace_time_zone("UTC")
    frame = p.select(
        pl.format("e-{}", pl.col("n")).alias("event_id"),
        pl.lit("purchase").alias("event_type"),
        pl.col("user").alias("user_id"),
        pl.when(pl.col("user").is_not_null()).then(pl.format("anon-{}", pl.col("n"))).alias("anonymous_id"),
        at.alias("occurred_at"),
        (at + pl.duration(seconds=1)).alias("received_at"),
        pl.lit(None, pl.String).alias("page_url"),
        pl.lit(None, pl.String).alias("referrer"),
        pl.format("sku-{}", pl.col("n")).alias("product_id"),
        "category",
        pl.lit(9.99).alias("price"),
        "quantity",
        pl.lit("EUR").alias("currency"),
        pl.format("o-{}", pl.col("n")).alias("order_id"),
        pl.lit(None, pl.String).alias("search_query"),
        pl.lit(None, pl.Float64).alias("scroll_depth_pct"),
        pl.lit(None, pl.Float64).alias("engaged_seconds"),
        pl.lit("desktop").alias("device_type"),
        pl.lit("Mozilla/5.0").alias("user_agent"),
        pl.lit("DE").alias("country"),
        pl.col("user").is_not_null().alias("consent_analytics"),
        pl.col("user").is_not_null().alias("consent_personalization"),
        pl.lit(None, pl.String).alias("experiment_id"),
        pl.lit(None, pl.String).alias("variant"),
        pl.lit(60, pl.Int32).alias("tz_offset_minutes"),
        pl.col("day").alias(PARTITION_COLUMN),
        pl.lit("fixture/events.jsonl.gz").alias("_source_file"),
        pl.col("n").cast(pl.Int64).alias("_source_line"),
        pl.lit(dt.datetime(2026, 1, 20, tzinfo=dt.UTC)).dt.cast_time_unit("us").alias("_landed_at"),
        pl.lit("fixture-run").alias("_landing_run_id"),
    )
    return pseudonymise_columns(frame, ["user_id"], key)


def write_bronze(root: Path, name: str, frame: pl.DataFrame, contract_name: str) -> Path:
    """Write ``frame`` as the bronze Delta table ``name`` under ``root`` (schema checked by cast_to)."""
    contract = SENSORS if contract_name == "sensors" else CLICKSTREAM
    table = cast_to(frame, bronze_schema(contract))
    path = root / "delta" / "bronze" / name
    write_deltalake(str(path), table, partition_by=[PARTITION_COLUMN], mode="overwrite")
    return path


def build(root: Path, key: str, sensors: pl.DataFrame | None = None) -> Fixture:
    """Write both bronze tables under ``root`` (a BEACON_DATA_DIR) and return the pseudonyms."""
    write_bronze(root, "sensor_readings", sensor_frame(key) if sensors is None else sensors, "sensors")
    write_bronze(root, "clickstream_events", clickstream_frame(key), "clickstream")
    return Fixture(
        root=root,
        key=key,
        home_ids={raw: pseudonymise_value(raw, key) for raw in (HOME_A, HOME_B)},
        user_ids={raw: pseudonymise_value(raw, key) for raw in (USER_A, USER_OTHER)},
    )
