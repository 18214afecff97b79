"""Cleaning, stitching and session rules on a real dbt build of the scenario (one full refresh)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from marts_dbt_runner import read_table
from marts_scenario import uid

pytestmark = pytest.mark.slow  # builds the dbt project


def _sessions(root: Path, device: str) -> pl.DataFrame:
    return read_table(root, "marts.fct_sessions", "session_start_at").filter(
        pl.col("anonymous_id") == uid(device)
    )


def test_gap_of_exactly_timeout_starts_a_new_session(scenario_full_build: Path) -> None:
    sessions = _sessions(scenario_full_build, "dC")
    assert sessions["session_start_at"].to_list() == [
        datetime(2026, 1, 5, 12, 0),
        datetime(2026, 1, 5, 12, 30),
    ]
    assert sessions["events"].to_list() == [1, 2]
    assert sessions["duration_seconds"].to_list() == [0.0, 1799.0]
    assert sessions["is_bounce"].to_list() == [True, False]


def test_session_across_midnight_is_one_session_dated_by_its_start(scenario_full_build: Path) -> None:
    sessions = _sessions(scenario_full_build, "dB")
    assert sessions.height == 1
    row = sessions.row(0, named=True)
    assert row["session_date"].isoformat() == "2026-01-06"
    assert row["session_end_at"] == datetime(2026, 1, 7, 0, 10)
    assert row["duration_seconds"] == 1200.0
    assert row["engaged_seconds"] == 10.0 and row["max_scroll_depth_pct"] == 40.0
    assert row["referrer_channel"] == "email"
    assert row["user_id"] == uid("bob")
    # default fixture offset is +60 minutes: 23:50 UTC is 00:50 local on a Wednesday (ISO 3)
    assert (row["local_start_hour"], row["local_start_weekday"]) == (0, 3)


def test_late_events_extend_and_merge_sessions(scenario_full_build: Path) -> None:
    sessions = _sessions(scenario_full_build, "dD")
    assert sessions["session_start_at"].to_list() == [
        datetime(2026, 1, 7, 14, 0),
        datetime(2026, 1, 7, 16, 0),
    ]
    assert sessions["session_end_at"].to_list() == [
        datetime(2026, 1, 7, 14, 40),
        datetime(2026, 1, 7, 16, 50),
    ]
    assert sessions["events"].to_list() == [3, 3]
    assert sessions["is_abandoned_cart"].to_list() == [True, False]


def test_identity_stitching_attributes_anonymous_events_to_the_later_login(scenario_full_build: Path) -> None:
    sessions = _sessions(scenario_full_build, "dA")
    # day-1 session starts anonymous, logs in mid-way; the day-2 session is anonymous only
    assert sessions["user_id"].to_list() == [uid("alice"), uid("alice")]
    first = sessions.row(0, named=True)
    assert (first["purchased"], first["orders"], first["revenue_eur"], first["referrer_channel"]) == (
        True,
        1,
        40.0,
        "search",
    )
    assert first["is_abandoned_cart"] is False
    users = read_table(scenario_full_build, "marts.dim_users").filter(pl.col("user_id") == uid("alice"))
    assert users["product_views"].to_list() == [2]  # both anonymous product views count for alice
    assert users["sessions"].to_list() == [2]
    assert users["average_order_value_eur"].to_list() == [40.0]
    # shared device: the anonymous event goes to the FIRST user it logged in as
    mapping = read_table(scenario_full_build, "intermediate.int_clickstream__identity_map")
    shared = mapping.filter(pl.col("anonymous_id") == uid("dS")).row(0, named=True)
    assert (shared["user_id"], shared["users_on_device"]) == (uid("dave"), 2)
    ds = _sessions(scenario_full_build, "dS")
    assert ds["user_id"].to_list() == [uid("dave"), uid("erin"), uid("dave")]


def test_duplicates_bots_and_no_consent_are_excluded_and_counted(scenario_full_build: Path) -> None:
    sessions = read_table(scenario_full_build, "marts.fct_sessions")
    devices = set(sessions["anonymous_id"].to_list())
    assert uid("dF") not in devices and uid("dG") not in devices
    assert sessions["anonymous_id"].null_count() == 0
    assert _sessions(scenario_full_build, "dE")["events"].to_list() == [1]
    exclusions = read_table(scenario_full_build, "marts.mart_event_exclusions")
    totals = {
        r["reason"]: (r["events"], r["action"])
        for r in exclusions.group_by("reason", "action").agg(pl.col("events").sum()).iter_rows(named=True)
    }
    assert totals == {
        "bot_user_agent": (2, "excluded"),
        "bot_burst_rate": (41, "excluded"),
        "no_analytics_consent": (3, "excluded"),
        "duplicate_delivery": (1, "removed"),
        "engaged_seconds_above_cap": (1, "capped"),
        "absurd_quantity_or_price": (1, "excluded_from_revenue"),
    }
    consent = exclusions.filter(pl.col("reason") == "no_analytics_consent")
    assert consent["devices"].sum() == 0  # no identifiers to count


def test_outliers_are_capped_or_kept_out_of_revenue(scenario_full_build: Path) -> None:
    row = _sessions(scenario_full_build, "dH").row(0, named=True)
    # The absurd ping is capped at 300 s per ping, then at the session's 60 s span.
    assert row["duration_seconds"] == 60.0
    assert row["engaged_seconds"] == 60.0 and row["has_capped_engagement"]
    assert row["purchased"] and row["revenue_eur"] == 0.0 and row["has_value_outlier"]
    assert row["session_start_at"] == datetime(2026, 1, 8, 10, 0)  # out-of-order delivery


def test_interaction_matrix_excludes_users_without_personalisation_consent(scenario_full_build: Path) -> None:
    matrix = read_table(scenario_full_build, "marts.mart_interaction_matrix")
    users = set(matrix["user_id"].to_list())
    assert uid("carol") not in users and uid("alice") in users
    alice = {
        r["product_id"]: r for r in matrix.filter(pl.col("user_id") == uid("alice")).iter_rows(named=True)
    }
    # p1: view (1) + cart (3) + purchase (5) on 2026-01-05, 5 days before the reference date
    decay = 0.5 ** (5 / 30)
    assert abs(alice["p1"]["weight"] - 9 * decay) < 1e-9
    assert abs(alice["p2"]["weight"] - 1 * 0.5 ** (4 / 30)) < 1e-9
    assert alice["p1"]["weight"] > alice["p2"]["weight"]


def test_experiment_readout_and_funnel(scenario_full_build: Path) -> None:
    readout = read_table(scenario_full_build, "marts.mart_experiment_readout", "variant")
    assert readout.select("variant", "visitors", "sessions", "converting_sessions", "revenue_eur").rows() == [
        ("control", 1, 1, 1, 40.0),
        ("treatment", 1, 1, 0, 0.0),
    ]
    funnel = read_table(scenario_full_build, "marts.mart_product_funnel").filter(pl.col("product_id") == "p1")
    row = funnel.row(0, named=True)
    assert (row["viewers"], row["viewers_who_carted"], row["carters_who_purchased"]) == (1, 1, 1)
    assert row["revenue_eur"] == 40.0 and row["view_to_purchase_rate"] == 1.0
