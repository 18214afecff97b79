"""Bronze suites: derived from the contracts, pass on clean data, and EVERY error expectation fails
on data that breaks it (one case per expectation, generated from the suite itself so a new
expectation without a violation case fails this module)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import quality_fixtures as qf

from expectations.bronze import (
    AHEAD_OF_LANDING_HOURS,
    ARRIVAL_LAG_DAYS,
    CONTRACT_OF_TABLE,
    bronze_suite,
    derived_columns,
    prepare_bronze_frame,
)
from expectations.model import Severity
from expectations.ranges import PHYSICAL_RANGES, missing_ranges
from expectations.runner import run_suite
from lakehouse.contracts import CLICKSTREAM, SENSORS
from lakehouse.landing.schemas import bronze_schema

TABLES = ("clickstream_events", "sensor_readings")
CLEAN: dict[str, Callable[[], pl.DataFrame]] = {
    "clickstream_events": qf.clickstream_frame,
    "sensor_readings": qf.sensor_frame,
}
Mutation = Callable[[pl.DataFrame], pl.DataFrame]


def _first(frame: pl.DataFrame, mask: pl.Expr, **values: object) -> pl.DataFrame:
    """Set ``values`` on the first row matching ``mask`` (one bad row among good ones)."""
    idx = frame.with_row_index("_i").filter(mask)["_i"][0]
    hit = pl.int_range(pl.len()) == idx
    return frame.with_columns(
        [
            pl.when(hit)
            .then(pl.lit(v, frame.schema[c]) if not isinstance(v, pl.Expr) else v)
            .otherwise(pl.col(c))
            .alias(c)
            for c, v in values.items()
        ]
    )


def _wrong_type(dtype: pl.DataType) -> pl.DataType:
    if dtype == pl.String:
        return pl.Int64()
    if isinstance(dtype, pl.Datetime):
        return pl.Datetime("us")  # naive
    if dtype == pl.Int32:
        return pl.Int64()
    if dtype == pl.Int64:
        return pl.Int32()
    if dtype == pl.Float64:
        return pl.Float32()
    return pl.String()  # bool, date


def _retype(col: str) -> Mutation:
    def mutate(f: pl.DataFrame) -> pl.DataFrame:
        dtype = f.schema[col]
        new = _wrong_type(dtype)
        if dtype == pl.String:
            return f.with_columns(pl.int_range(pl.len()).cast(new).alias(col))
        if isinstance(dtype, pl.Datetime):
            return f.with_columns(pl.col(col).dt.replace_time_zone(None))
        return f.with_columns(pl.col(col).cast(new))

    return mutate


def mutation(table: str, expectation_id: str) -> tuple[Mutation, bool]:
    """How to break one expectation: (mutation, applied after the derived columns are added).

    Raises KeyError for an expectation nobody wrote a violation for.
    """
    kind, _, arg = expectation_id.partition(":")
    consent = pl.col("consent_analytics")
    if kind == "columns":
        return (lambda f: f.with_columns(pl.lit("x").alias("unexpected_column"))), True
    if kind == "type":
        return _retype(arg), True
    if kind == "not_null":
        mask = consent if arg in ("user_id", "anonymous_id") else pl.lit(True)
        return (lambda f: _first(f, mask, **{arg: None})), False
    if kind == "in_set":
        return (lambda f: _first(f, pl.lit(True), **{arg: "not-a-known-value"})), False
    if kind == "unique":
        return (lambda f: pl.concat([f, f.head(1)])), False
    if kind == "pseudonym":
        return (lambda f: _first(f, pl.col(arg).is_not_null(), **{arg: "u000123"})), False
    if kind == "null_without_consent":
        return (lambda f: _first(f, ~consent, **{arg: qf.pseudonym("leak")})), False
    if kind == "required_for_type":
        types = bronze_suite(table).expectation(expectation_id).where[0].value
        return (lambda f: _first(f, pl.col("event_type").is_in(types), **{arg: None})), False
    if kind == "range":
        sensor_type, unit = arg.split(":")
        low, high = PHYSICAL_RANGES[(sensor_type, unit)]
        bad = high + 1 if high is not None else low - 1
        return (
            lambda f: _first(f, (pl.col("sensor_type") == sensor_type) & (pl.col("unit") == unit), value=bad)
        ), False
    if kind == "binary":
        return (lambda f: _first(f, pl.col("sensor_type") == arg, value=0.5)), False

    def late_click(f: pl.DataFrame) -> pl.DataFrame:
        return _first(
            f,
            pl.lit(True),
            received_at=pl.col("received_at") + pl.duration(days=5),
            _landed_at=pl.col("_landed_at") + pl.duration(days=5),
        )

    def late_sensor(f: pl.DataFrame) -> pl.DataFrame:
        return _first(f, pl.lit(True), _source_file="sensors/2026-01-10/readings-2026-01-10-000.csv.gz")

    simple: dict[str, tuple[Mutation, bool]] = {
        "arrival_within_late_window": (late_click if table == "clickstream_events" else late_sensor, False),
        "not_in_future_of_landing": (
            lambda f: _first(f, pl.lit(True), occurred_at=pl.col("_landed_at") + pl.duration(days=2)),
            False,
        ),
        "partition_matches_event_time": (
            lambda f: _first(f, pl.lit(True), event_date=pl.col("event_date") + pl.duration(days=1)),
            False,
        ),
        "received_not_after_landing": (
            lambda f: _first(f, pl.lit(True), received_at=pl.col("_landed_at") + pl.duration(hours=1)),
            False,
        ),
        "price_not_negative": (lambda f: _first(f, pl.col("event_type") == "purchase", price=-1.0), False),
        "quantity_positive": (lambda f: _first(f, pl.col("event_type") == "purchase", quantity=0), False),
        "scroll_depth_percent": (
            lambda f: _first(f, pl.col("event_type") == "page_ping", scroll_depth_pct=120.0),
            False,
        ),
        "engaged_seconds_not_negative": (
            lambda f: _first(f, pl.col("event_type") == "page_ping", engaged_seconds=-5.0),
            False,
        ),
    }
    return simple[kind]


CASES = [
    pytest.param(table, e.id, id=f"{table}-{e.id}")
    for table in TABLES
    for e in bronze_suite(table).error_expectations()
]


@pytest.fixture(scope="module")
def clean() -> dict[str, pl.DataFrame]:
    return {t: CLEAN[t]() for t in TABLES}


@pytest.mark.parametrize("table", TABLES)
def test_clean_bronze_passes_every_check_with_docs(
    table: str, clean: dict[str, pl.DataFrame], qc_docs
) -> None:
    run = run_suite(bronze_suite(table), prepare_bronze_frame(table, clean[table]), qc_docs, docs=True)
    failed = {i: run.outcomes[i].observed for i in run.failed_ids()}
    assert failed == {}
    assert run.rows == clean[table].height
    assert run.docs_url and run.docs_url.startswith("file://") and run.docs_url.endswith(".html")
    page = run.docs_url.removeprefix("file://")
    assert table in Path(page).read_text(encoding="utf-8")
    assert qc_docs.docs_index.is_file()


@pytest.mark.parametrize(("table", "expectation_id"), CASES)
def test_every_error_expectation_fails_on_violating_data(
    table: str, expectation_id: str, clean: dict[str, pl.DataFrame], qc
) -> None:
    suite = bronze_suite(table)
    mutate, after = mutation(table, expectation_id)
    frame = clean[table]
    frame = (
        mutate(prepare_bronze_frame(table, frame)) if after else prepare_bronze_frame(table, mutate(frame))
    )
    # the clean frame passes every expectation (test above), so this failure is the violation's doing
    run = run_suite(suite.subset([expectation_id]), frame, qc, docs=False)
    assert run.failed_ids() == {expectation_id}
    check = run.check(suite.expectation(expectation_id).check)
    assert not check.passed and check.severity is Severity.ERROR
    outcome = run.outcomes[expectation_id]
    if outcome.unexpected_count is not None:  # row-level: the failing row is in the sample
        assert outcome.unexpected_count >= 1
        assert outcome.sample.height >= 1
        assert "|" in check.sample_markdown()


def test_columns_and_types_are_derived_from_the_contracts() -> None:
    for table, contract in (("clickstream_events", CLICKSTREAM), ("sensor_readings", SENSORS)):
        suite = bronze_suite(table)
        schema = bronze_schema(contract)
        assert {e.kwargs["column"] for e in suite.expectations if e.id.startswith("type:")} == set(
            schema.names()
        )
        assert set(suite.expectation("columns").kwargs["column_set"]) == {
            *schema.names(),
            *derived_columns(CONTRACT_OF_TABLE[table]),
        }
        required = {f.name for f in contract.fields if f.required}
        assert required <= {e.kwargs["column"] for e in suite.for_check("keys_not_null")}
        allowed = {f.name for f in contract.fields if f.allowed}
        assert allowed == {e.kwargs["column"] for e in suite.for_check("allowed_values")}
    assert "purchase" in bronze_suite("clickstream_events").expectation("quantity_positive").where[0].value


def test_every_sensor_type_and_unit_has_a_physical_range() -> None:
    assert missing_ranges() == []
    assert PHYSICAL_RANGES[("temperature", "C")] == (-40.0, 60.0)
    assert PHYSICAL_RANGES[("co2", "ppm")] == (250.0, 10_000.0)
    assert PHYSICAL_RANGES[("humidity", "%")] == (0.0, 100.0)


def test_derived_time_columns_measure_what_they_claim() -> None:
    frame = (
        qf.clickstream_frame()
        .head(1)
        .with_columns(
            received_at=pl.lit(dt.datetime(2026, 1, 8, 9, tzinfo=dt.UTC)),
            occurred_at=pl.lit(dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)),
            _landed_at=pl.lit(dt.datetime(2026, 1, 5, 3, tzinfo=dt.UTC)),
        )
    )
    out = prepare_bronze_frame("clickstream_events", frame)
    assert out[ARRIVAL_LAG_DAYS][0] == 3.0
    assert out[AHEAD_OF_LANDING_HOURS][0] == pytest.approx(6.0)
    sensors = prepare_bronze_frame(
        "sensor_readings",
        qf.sensor_frame()
        .head(1)
        .with_columns(_source_file=pl.lit("sensors/2026-01-07/readings-2026-01-07-000.csv.gz")),
    )
    assert sensors[ARRIVAL_LAG_DAYS][0] == 2.0
    imports = prepare_bronze_frame(
        "sensor_readings",
        qf.sensor_frame().head(1).with_columns(_source_file=pl.lit("imports/homeassistant/export.csv")),
    )
    assert imports[ARRIVAL_LAG_DAYS][0] is None


@pytest.mark.parametrize(
    ("table", "expectation_id", "key"),
    [
        ("clickstream_events", "pseudonym:user_id", "event_id"),
        ("sensor_readings", "pseudonym:home_id", "reading_id"),
    ],
)
def test_failing_rows_and_observed_values_never_carry_identifiers(
    table: str, expectation_id: str, key: str, clean: dict[str, pl.DataFrame], qc_docs
) -> None:
    """Issue 7: an erased person must not live on in Dagster's event log via check metadata,
    nor in GX's stored results and Data Docs pages under ``BEACON_DATA_DIR/gx``."""
    from expectations.runner import REDACTED
    from lakehouse.landing.schemas import ALL_IDENTIFIER_KEYS

    mutate, _ = mutation(table, expectation_id)
    frame = prepare_bronze_frame(table, mutate(clean[table]))
    run = run_suite(bronze_suite(table).subset([expectation_id]), frame, qc_docs, docs=True)
    outcome = run.outcomes[expectation_id]
    assert not outcome.success and outcome.sample.height == 1
    assert key in outcome.sample.columns and "_source_line" in outcome.sample.columns
    assert not set(ALL_IDENTIFIER_KEYS) & set(outcome.sample.columns)
    check = run.check(bronze_suite(table).expectation(expectation_id).check)
    text = check.sample_markdown() + check.observed_markdown()
    assert "u000123" not in text and REDACTED in outcome.observed
    ids = {v for c in ALL_IDENTIFIER_KEYS if c in frame.columns for v in frame[c].drop_nulls().to_list()}
    assert not {v for v in ids if v in text}
    assert run.docs_url and REDACTED in Path(run.docs_url.removeprefix("file://")).read_text(encoding="utf-8")
    stored = [f for f in qc_docs.gx_dir.rglob("*") if f.is_file() and b"u000123" in f.read_bytes()]
    assert stored == [], f"raw identifier kept by GX in {stored}"
