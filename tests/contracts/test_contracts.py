"""Every contract rule rejects what it should and accepts what it should."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from lakehouse.contracts import (
    CLICKSTREAM,
    EVENT_TYPES,
    REASONS_COLUMN,
    SENSORS,
    UNITS,
    validate_frame,
    validate_record,
)
from lakehouse.contracts.clickstream import REQUIRED_BY_TYPE
from lakehouse.contracts.docs import render

BASE_EVENT: dict[str, object] = {
    "event_id": "e-1",
    "event_type": "page_view",
    "user_id": None,
    "anonymous_id": "a-1",
    "occurred_at": "2026-01-05T10:00:00.125+01:00",
    "received_at": "2026-01-05T09:00:01Z",
    "page_url": "https://shop.example/",
    "consent_analytics": True,
    "consent_personalization": True,
}

FULL_EVENT: dict[str, object] = {
    **BASE_EVENT,
    "order_id": "o-1",
    "product_id": "sku-1",
    "price": 12.5,
    "quantity": 2,
    "currency": "EUR",
    "search_query": "kettle",
    "scroll_depth_pct": 50,
    "engaged_seconds": 10,
    "country": "DE",
    "device_type": "mobile",
}

BASE_READING: dict[str, object] = {
    "reading_id": "r-1",
    "home_id": "h-1",
    "device_id": "co2_sensor-3fa9c1",
    "room": "kitchen",
    "sensor_type": "co2",
    "value": "612",
    "unit": "ppm",
    "occurred_at": "2026-01-05T07:10:00-05:30",
}


def codes(contract, record) -> set[tuple[str, str]]:
    return {(v.code, v.field) for v in validate_record(contract, record)}


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_is_accepted_with_its_fields(event_type: str) -> None:
    assert validate_record(CLICKSTREAM, {**FULL_EVENT, "event_type": event_type}) == []


@pytest.mark.parametrize(("event_type", "field"), [(t, f) for t, fs in REQUIRED_BY_TYPE.items() for f in fs])
def test_fields_required_by_event_type(event_type: str, field: str) -> None:
    record = {**FULL_EVENT, "event_type": event_type, field: None}
    assert ("missing_field", field) in codes(CLICKSTREAM, record)


@pytest.mark.parametrize("field", [f.name for f in CLICKSTREAM.fields if f.required])
def test_required_fields(field: str) -> None:
    violations = validate_record(CLICKSTREAM, {**FULL_EVENT, field: None})
    assert any(v.code == "missing_field" and v.field == field for v in violations)
    assert validate_record(CLICKSTREAM, {**FULL_EVENT, field: "  "}) != []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", "twelve"),
        ("quantity", "2.5"),
        ("quantity", "two"),
        ("consent_analytics", "maybe"),
        ("occurred_at", "2026-01-05 10:00:00"),  # no offset: ambiguous
        ("occurred_at", "yesterday"),
        ("received_at", "2026-13-01T00:00:00Z"),
        ("scroll_depth_pct", "deep"),
    ],
)
def test_wrong_types_name_the_value(field: str, value: str) -> None:
    violations = validate_record(CLICKSTREAM, {**FULL_EVENT, field: value})
    wrong = [v for v in violations if v.code == "wrong_type"]
    assert [v.field for v in wrong] == [field]
    assert value[:20] in wrong[0].message


def test_integral_floats_and_boolean_spellings_are_accepted() -> None:
    assert validate_record(CLICKSTREAM, {**FULL_EVENT, "quantity": "3.0", "consent_analytics": "FALSE"}) == []
    assert validate_record(CLICKSTREAM, {**FULL_EVENT, "consent_personalization": "0"}) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"event_type": "click"}, ("not_allowed", "event_type")),
        ({"device_type": "fridge"}, ("not_allowed", "device_type")),
        ({"price": -1}, ("out_of_range", "price")),
        ({"scroll_depth_pct": 101}, ("out_of_range", "scroll_depth_pct")),
        ({"scroll_depth_pct": -1}, ("out_of_range", "scroll_depth_pct")),
        ({"engaged_seconds": -5}, ("out_of_range", "engaged_seconds")),
        ({"event_type": "purchase", "quantity": 0}, ("out_of_range", "quantity")),
        ({"event_type": "refund", "quantity": -2}, ("out_of_range", "quantity")),
        ({"currency": "eur"}, ("bad_format", "currency")),
        ({"country": "Germany"}, ("bad_format", "country")),
        ({"experiment_id": "exp-1"}, ("incomplete_pair", "variant")),
        ({"variant": "treatment"}, ("incomplete_pair", "variant")),
        ({"occurred_at": "1970-01-01T00:00:00Z"}, ("impossible_timestamp", "occurred_at")),
        ({"occurred_at": "2026-01-07T09:00:00Z"}, ("impossible_timestamp", "occurred_at")),
    ],
)
def test_rules_reject(changes: dict[str, object], expected: tuple[str, str]) -> None:
    assert expected in codes(CLICKSTREAM, {**FULL_EVENT, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {"experiment_id": "exp-1", "variant": "control"},
        {
            "occurred_at": "2026-01-05T09:10:00+00:00"
        },  # a device clock 10 minutes ahead is skew, not impossible
        {"occurred_at": "2026-01-02T09:00:00-08:00"},  # three days late is late, not impossible
        {"event_type": "remove_from_cart", "price": None, "currency": None},
        {"quantity": 0},  # quantity only has to be positive on cart, purchase and refund events
        {"occurred_at": "2026-01-05T10:00:00+0100"},
    ],
)
def test_rules_accept(changes: dict[str, object]) -> None:
    assert validate_record(CLICKSTREAM, {**FULL_EVENT, **changes}) == []


def test_timestamps_are_utc_and_keep_the_offset() -> None:
    out = validate_frame(
        CLICKSTREAM,
        pl.DataFrame([{k: None if v is None else str(v) for k, v in BASE_EVENT.items()}]),
    ).collect()
    assert str(out["occurred_at"][0]) == "2026-01-05 09:00:00.125000+00:00"
    assert out["tz_offset_minutes"][0] == 60
    assert out[REASONS_COLUMN][0].to_list() == []
    assert out.schema["occurred_at"] == pl.Datetime("us", "UTC")


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("2026-01-05T10:00:00Z", 0), ("2026-01-05T10:00:00-05:30", -330), ("2026-01-05T10:00:00+0900", 540)],
)
def test_offsets(text: str, minutes: int) -> None:
    out = validate_frame(SENSORS, pl.DataFrame([{**BASE_READING, "occurred_at": text}])).collect()
    assert out["tz_offset_minutes"][0] == minutes


def test_frame_validation_is_row_by_row_and_keeps_extra_columns() -> None:
    rows = [
        {k: None if v is None else str(v) for k, v in FULL_EVENT.items()},
        {
            k: None if v is None else str(v)
            for k, v in {**FULL_EVENT, "price": "-3", "event_type": "zap"}.items()
        },
    ]
    frame = pl.DataFrame(rows).with_columns(pl.Series("_source_line", [1, 2]))
    out = validate_frame(CLICKSTREAM, frame).collect()
    assert out["_source_line"].to_list() == [1, 2]
    assert out[REASONS_COLUMN][0].to_list() == []
    reasons = out[REASONS_COLUMN][1].to_list()
    assert any(r.startswith("not_allowed[event_type]: value 'zap'") for r in reasons)
    assert any(r.startswith("out_of_range[price]") for r in reasons)


def test_missing_columns_are_absent_fields() -> None:
    out = validate_frame(CLICKSTREAM, pl.DataFrame({"event_id": ["x"]})).collect()
    reasons = out[REASONS_COLUMN][0].to_list()
    assert "missing_field[event_type]: required field event_type is absent or empty" in reasons


@pytest.mark.parametrize("sensor_type", list(UNITS))
def test_every_sensor_type_with_its_units(sensor_type: str) -> None:
    for unit in UNITS[sensor_type]:
        record = {**BASE_READING, "sensor_type": sensor_type, "unit": unit, "value": "1"}
        assert validate_record(SENSORS, record) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"sensor_type": "radiation"}, ("not_allowed", "sensor_type")),
        ({"unit": "F"}, ("not_allowed", "unit")),
        ({"unit": "%"}, ("unit_mismatch", "unit")),
        ({"value": "n/a"}, ("wrong_type", "value")),
        ({"value": "NaN"}, ("out_of_range", "value")),
        ({"value": "inf"}, ("out_of_range", "value")),
        ({"sensor_type": "motion", "unit": "bool", "value": "2"}, ("out_of_range", "value")),
        ({"occurred_at": "1999-12-31T23:00:00Z"}, ("impossible_timestamp", "occurred_at")),
        ({"home_id": None}, ("missing_field", "home_id")),
    ],
)
def test_sensor_rules_reject(changes: dict[str, object], expected: tuple[str, str]) -> None:
    assert expected in codes(SENSORS, {**BASE_READING, **changes})


def test_docs_are_rendered_from_the_code() -> None:
    committed = (Path(__file__).resolve().parents[2] / "docs" / "contracts.md").read_text()
    assert committed == render(), "docs/contracts.md is stale: run `make docs`"
    for name in CLICKSTREAM.names + SENSORS.names:
        assert f"`{name}`" in committed
