"""The smart-home sensor reading contract.

Shaped like the state records of common home hubs (Home Assistant's ``entity_id``/``state``/
``unit_of_measurement``/``last_changed``; an MQTT topic ``beacon/<home>/<room>/<sensor>``):
one reading is one value of one sensor at one instant. ``user_id`` links a home to the shopper
account of its household when it has one; it is pseudonymised at landing with the same key
as the clickstream's ``user_id``, so purchases and device usage join without a raw id.
"""

from __future__ import annotations

import polars as pl

from lakehouse.contracts.model import TIMESTAMP, Contract, Field, Rule

#: sensor type -> units it may be reported in (the first is canonical).
UNITS: dict[str, tuple[str, ...]] = {
    "temperature": ("C",),
    "humidity": ("%",),
    "light": ("lux",),
    "co2": ("ppm",),
    "motion": ("bool",),
    "door": ("bool",),
    "occupancy": ("bool",),
    "power": ("W",),
    "energy": ("Wh",),
    "pressure": ("hPa", "mmHg"),
    "wind_speed": ("m/s",),
    "visibility": ("km",),
}
SENSOR_TYPES: tuple[str, ...] = tuple(UNITS)
ALL_UNITS: tuple[str, ...] = tuple(sorted({u for us in UNITS.values() for u in us}))
BINARY_TYPES: tuple[str, ...] = tuple(t for t, us in UNITS.items() if us == ("bool",))


def _unit_matches_type() -> pl.Expr:
    ok = pl.lit(False)
    for sensor_type, units in UNITS.items():
        ok = ok | ((pl.col("sensor_type") == sensor_type) & pl.col("unit").is_in(list(units)))
    return ok


SENSORS = Contract(
    name="sensor_reading",
    description="One value of one smart-home sensor at one instant.",
    spec_name="Home Assistant state objects / MQTT topic beacon/<home>/<room>/<sensor>",
    key="reading_id",
    time_field="occurred_at",
    fields=(
        Field(
            "reading_id",
            pl.String,
            "Unique id of the reading; a re-delivery repeats it.",
            required=True,
            spec="context.id",
            example="r-2c1e9a",
        ),
        Field("home_id", pl.String, "Household.", required=True, spec="(topic level 2)", example="h0007"),
        Field(
            "device_id",
            pl.String,
            "Physical device that measured it.",
            required=True,
            spec="device_id",
            example="co2_sensor-3fa9c1",
        ),
        Field("room", pl.String, "Room (or 'outdoor').", required=True, spec="area_id", example="kitchen"),
        Field(
            "sensor_type",
            pl.String,
            "What is measured.",
            required=True,
            allowed=SENSOR_TYPES,
            spec="device_class",
            example="co2",
        ),
        Field(
            "value",
            pl.Float64,
            "Measured value; 0/1 for binary sensors.",
            required=True,
            spec="state",
            example=612.0,
        ),
        Field(
            "unit",
            pl.String,
            "Unit of `value`; must suit the sensor type.",
            required=True,
            allowed=ALL_UNITS,
            spec="unit_of_measurement",
            example="ppm",
        ),
        Field(
            "occurred_at",
            TIMESTAMP,
            "When it was measured, ISO-8601 with its UTC offset.",
            required=True,
            spec="last_changed",
            example="2026-01-05T07:10:00+01:00",
        ),
        Field(
            "user_id",
            pl.String,
            "Shopper account of the household, if it has one.",
            spec="(Beacon link)",
            example="u000123",
        ),
    ),
    rules=(
        Rule(
            "unit_mismatch",
            "unit",
            pl.col("unit").is_not_null() & pl.col("sensor_type").is_not_null() & ~_unit_matches_type(),
            pl.format("unit '{}' does not fit sensor type {}", pl.col("unit"), pl.col("sensor_type")),
            doc="the unit must be one listed for the sensor type (table below)",
        ),
        Rule(
            "out_of_range",
            "value",
            pl.col("value").is_nan() | pl.col("value").is_infinite(),
            pl.format("value {} is not a finite number", pl.col("value").cast(pl.String)),
            doc="finite (no NaN or infinity)",
        ),
        Rule(
            "out_of_range",
            "value",
            pl.col("sensor_type").is_in(BINARY_TYPES) & ~pl.col("value").is_in([0.0, 1.0]),
            pl.format(
                "{} is a binary sensor: value must be 0 or 1, got {}",
                pl.col("sensor_type"),
                pl.col("value").cast(pl.String),
            ),
            doc="0 or 1 for motion, door and occupancy",
        ),
        Rule(
            "impossible_timestamp",
            "occurred_at",
            pl.col("occurred_at")
            < pl.lit("2000-01-01T00:00:00+00:00").str.to_datetime(time_unit="us", time_zone="UTC"),
            pl.format("occurred_at {} is before 2000", pl.col("occurred_at").cast(pl.String)),
            doc="not before 2000-01-01",
        ),
    ),
)
