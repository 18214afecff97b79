"""Landing-ledger reconciliation (blocking) and the distribution checks (warn only)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import quality_fixtures as qf

from expectations.distribution import (
    MAX_SILENT_DAYS,
    distribution_suite,
    null_rate_frame,
    silence_frame,
    stack,
    volume_frame,
)
from expectations.landing_ledger import ledger_frame, ledger_suite
from expectations.model import Severity
from expectations.runner import run_suite
from lakehouse.landing.schemas import LEDGER_SCHEMA

START = dt.date(2026, 1, 1)


def _ledger(rows: list[dict[str, object]]) -> pl.DataFrame:
    base = {c: None for c in LEDGER_SCHEMA.names()}
    return pl.DataFrame([{**base, "status": "landed", "skipped": 0, **r} for r in rows], schema=LEDGER_SCHEMA)


def _file(
    run: str,
    day: dt.date,
    read: int,
    landed: int,
    quarantined: int,
    dupes: int,
    skipped: int = 0,
    table: str = "clickstream_events",
) -> dict[str, object]:
    return {
        "landing_run_id": run,
        "delivery_date": day,
        "lines_read": read,
        "rows_landed": landed,
        "rows_quarantined": quarantined,
        "duplicates": dupes,
        "skipped": skipped,
        "table_name": table,
        "source_file": f"clickstream/{day}/events-{day}-000.jsonl.gz",
    }


def test_balanced_ledger_passes(qc) -> None:
    ledger = _ledger(
        [
            _file("r1", START, 100, 90, 6, 4),
            _file("r1", START, 50, 48, 0, 1, skipped=1),
            _file("r2", START, 10, 10, 0, 0),
            {**_file("r2", START, 7, 0, 0, 0), "status": "duplicate_file"},
        ]
    )
    frame = ledger_frame(ledger)
    assert frame.select("landing_run_id", "lines_read", "lines_accounted").rows() == [
        ("r1", 150, 150),
        ("r2", 10, 10),
    ]
    assert run_suite(ledger_suite(), frame, qc, docs=False).success


@pytest.mark.parametrize(
    ("expectation_id", "row"),
    [
        ("lines_accounted", _file("r3", START, 100, 90, 5, 4)),
        ("counts_not_negative", _file("r3", START, 0, 5, -5, 0)),
    ],
)
def test_unbalanced_ledger_fails(expectation_id: str, row: dict[str, object], qc) -> None:
    frame = ledger_frame(_ledger([_file("r1", START, 10, 10, 0, 0), row]))
    run = run_suite(ledger_suite().subset([expectation_id]), frame, qc, docs=False)
    assert run.failed_ids() == {expectation_id}
    check = run.check("landing_ledger_balanced")
    assert check.severity is Severity.ERROR and not check.passed
    assert "r3" in check.sample_markdown() and "r1" not in check.sample_markdown()


def _volumes(last: int) -> pl.DataFrame:
    rows = [
        _file("r", START + dt.timedelta(days=i), n, n, 0, 0)
        for i, n in enumerate([100, 96, 104, 99, 101, 98, 103])
    ]
    return _ledger([*rows, _file("r", START + dt.timedelta(days=7), last, last, 0, 0)])


def test_volume_ratio_to_trailing_median() -> None:
    frame = volume_frame(_volumes(250), "clickstream_events", START + dt.timedelta(days=7))
    assert frame.rows(named=True)[0]["trailing_median"] == 100.0
    assert frame["ratio_to_trailing_median"][0] == 2.5
    # a missing delivery day counts as zero rows: that day's ratio is 0
    gap = _ledger([_file("r", START + dt.timedelta(days=i), 100, 100, 0, 0) for i in range(5)])
    assert (
        volume_frame(gap, "clickstream_events", START + dt.timedelta(days=6))["ratio_to_trailing_median"][0]
        == 0
    )


def _null_bronze(last_day_null_share: float) -> pl.LazyFrame:
    frames = []
    for i in range(8):
        day = START + dt.timedelta(days=i)
        f = qf.clickstream_frame(n_per_type=100, day=day)
        share = last_day_null_share if i == 7 else 0.1
        nulls = pl.int_range(pl.len()) < int(share * f.height)
        frames.append(f.with_columns(user_id=pl.when(nulls).then(None).otherwise(pl.col("user_id"))))
    return pl.concat(frames).lazy()


def _silence_bronze(silent_days: int) -> pl.LazyFrame:
    rows = []
    for i in range(14):
        day = START + dt.timedelta(days=i)
        if i < 14 - silent_days:
            rows.append({"device_id": "thermostat-aaaaaa", "event_date": day})
        if i in (0, 5):  # a sporadic motion sensor: never judged
            rows.append({"device_id": "motion_sensor-bbbbbb", "event_date": day})
    return pl.DataFrame(rows).lazy()


@pytest.mark.parametrize(
    ("table", "expectation_id", "build"),
    [
        (
            "clickstream_events",
            "volume_within_band",
            lambda ok: volume_frame(
                _volumes(105 if ok else 250), "clickstream_events", START + dt.timedelta(days=7)
            ),
        ),
        (
            "clickstream_events",
            "null_rate_stable",
            lambda ok: null_rate_frame(
                _null_bronze(0.15 if ok else 0.6), "clickstream_events", START + dt.timedelta(days=7)
            ),
        ),
        (
            "sensor_readings",
            "device_reporting",
            lambda ok: silence_frame(
                _silence_bronze(MAX_SILENT_DAYS if ok else MAX_SILENT_DAYS + 2), START + dt.timedelta(days=13)
            ),
        ),
    ],
)
def test_distribution_checks_warn_on_anomalies(table: str, expectation_id: str, build, qc) -> None:
    suite = distribution_suite(table)
    sensors = table == "sensor_readings"
    good = run_suite(suite, stack([build(True)], sensors), qc, docs=False)
    assert good.success, {i: o.observed for i, o in good.outcomes.items()}
    bad = run_suite(suite, stack([build(False)], sensors), qc, docs=False)
    assert bad.failed_ids() == {expectation_id}
    check = bad.check(suite.expectation(expectation_id).check)
    assert check.severity is Severity.WARN and not check.passed
    assert bad.outcomes[expectation_id].sample.height >= 1
    if sensors:
        assert (
            "thermostat-aaaaaa" in check.sample_markdown() and "motion_sensor" not in check.sample_markdown()
        )


def test_distribution_suites_are_warn_only() -> None:
    for table in ("clickstream_events", "sensor_readings"):
        assert distribution_suite(table).error_expectations() == []


def test_data_docs_site_is_rebuilt_under_the_data_dir(gx_root, qc_docs) -> None:
    from expectations.docs import build_data_docs
    from lakehouse.config import paths

    frame = ledger_frame(_ledger([_file("r1", START, 10, 10, 0, 0)]))
    run = run_suite(ledger_suite(), frame, qc_docs, docs=True)
    assert run.docs_url and "landing_ledger" in run.docs_url
    index = build_data_docs(paths(gx_root))
    assert index == gx_root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert "landing_ledger" in index.read_text(encoding="utf-8")
