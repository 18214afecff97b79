"""The dbt command lines of the Dagster assets (pure functions)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from dagster import TimeWindow

from orchestration.dbt_args import build_dbt_args, docs_args, partition_vars


def test_partition_vars_are_a_half_open_date_window() -> None:
    assert partition_vars(date(2026, 1, 5), date(2026, 1, 6)) == {
        "start_date": "2026-01-05",
        "end_date": "2026-01-06",
    }
    assert (
        partition_vars(datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 8, tzinfo=UTC))["end_date"]
        == "2026-01-08"
    )
    with pytest.raises(ValueError, match="empty window"):
        partition_vars(date(2026, 1, 5), date(2026, 1, 5))


def test_build_args_for_a_partition_and_a_backfill() -> None:
    window = TimeWindow(datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 9, tzinfo=UTC))
    args = build_dbt_args(window, lookback_days=2)
    assert args[:2] == ["build", "--vars"] and len(args) == 3
    assert json.loads(args[2]) == {"start_date": "2026-01-05", "end_date": "2026-01-09", "lookback_days": 2}


def test_build_args_full_refresh_and_reference_date() -> None:
    args = build_dbt_args(None, full_refresh=True, reference_date=date(2026, 2, 1), extra_vars={"x": 1})
    assert args[-1] == "--full-refresh"
    assert json.loads(args[2]) == {"lookback_days": 3, "reference_date": "2026-02-01", "x": 1}
    with pytest.raises(ValueError):
        build_dbt_args(None, lookback_days=-1)


def test_build_args_can_leave_unit_tests_out() -> None:
    assert "--exclude-resource-type" not in build_dbt_args(None)
    args = build_dbt_args(None, full_refresh=True, unit_tests=False)
    assert args[3:] == ["--full-refresh", "--exclude-resource-type", "unit_test"]


def test_docs_args() -> None:
    assert docs_args("/data/dbt_docs") == ["docs", "generate", "--target-path", "/data/dbt_docs"]
