"""The checksum that decides whether two engines built the same table (fast tier, no JVM)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from lakehouse.spark.equivalence import arrow_fingerprint, differences


def _table(**columns: list) -> pa.Table:
    return pa.table(columns)


def test_row_order_and_last_bit_float_noise_do_not_count() -> None:
    a = _table(id=[1, 2, 3], kwh=[2.196223499999999, 0.1, -0.0])
    b = _table(id=[3, 1, 2], kwh=[0.0, 2.1962235, 0.1 + 1e-16])
    fa, fb = arrow_fingerprint(a), arrow_fingerprint(b)
    # 2.1962234999.. and 2.1962235 round apart on the plain 6-place grid, not on the shifted one
    assert fa.columns["kwh"][0] != fb.columns["kwh"][0]
    assert differences(fa, fb) == []


def test_real_differences_are_named() -> None:
    base = _table(id=[1, 2], kwh=[2.196223, 5.0], name=["a", "b"])
    assert differences(
        arrow_fingerprint(base), arrow_fingerprint(_table(id=[1, 2], kwh=[2.196224, 5.0], name=["a", "b"]))
    ) == ["column 'kwh' differs"]
    assert differences(
        arrow_fingerprint(base), arrow_fingerprint(_table(id=[1, 2], kwh=[2.196223, 5.0], name=["a", "c"]))
    ) == ["column 'name' differs"]
    assert (
        differences(arrow_fingerprint(base), arrow_fingerprint(_table(id=[1], kwh=[2.196223], name=["a"])))[0]
        == "rows 2 != 1"
    )
    assert differences(
        arrow_fingerprint(base), arrow_fingerprint(_table(id=[1, 2], kwh=[2.196223, 5.0]))
    ) == ["missing columns ['name']"]
    # moving values between rows of one column keeps its checksum only when the multiset is equal
    assert (
        differences(
            arrow_fingerprint(base),
            arrow_fingerprint(_table(id=[2, 1], kwh=[5.0, 2.196223], name=["b", "a"])),
        )
        == []
    )


def test_types_spelled_differently_by_the_engines_compare_by_value() -> None:
    instant = dt.datetime(2026, 1, 1, 12, 30, tzinfo=dt.UTC)
    duck = pa.table(
        {
            "at": pa.array([instant], pa.timestamp("us", tz="UTC")),
            "n": pa.array([7], pa.int32()),
            "money": pa.array([12.5], pa.float64()),
        }
    )
    spark = pa.table(
        {
            "at": pa.array([instant.replace(tzinfo=None)], pa.timestamp("us")),
            "n": pa.array([7], pa.decimal128(20, 0)),
            "money": pa.array([Decimal("12.50")], pa.decimal128(10, 2)),
        }
    )
    assert differences(arrow_fingerprint(duck), arrow_fingerprint(spark)) == []
