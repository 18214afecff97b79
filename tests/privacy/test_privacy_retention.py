"""Retention on real Delta tables and landing folders: old partitions go, with no copy left in the log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from lakehouse import storage
from lakehouse.config import paths
from lakehouse.privacy.retention import apply_retention, load_policy, parse_policy
from lakehouse.privacy.scan import scan_tree

OLD_USER = "0" * 60 + "01d5"
NEW_USER = "0" * 60 + "4e35"


def test_retention_deletes_old_partitions_and_their_traces(data_dir: Path, tmp_path: Path) -> None:
    p = paths(data_dir)
    table = p.table("bronze", "clickstream_events")
    today = dt.date(2026, 6, 1)
    days = [today - dt.timedelta(days=n) for n in (500, 401, 400, 10)]
    for day in days:
        user = OLD_USER if day < today - dt.timedelta(days=400) else NEW_USER
        storage.write_partitions(
            table, pl.DataFrame({"user_id": [user, user], "event_date": [day, day]}), ["event_date"]
        )
    for day in (days[0], days[-1]):
        (p.landing / "clickstream" / day.isoformat()).mkdir(parents=True)
        (p.landing / "clickstream" / day.isoformat() / "events.jsonl.gz").write_bytes(b"x")
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(
        "tables:\n  bronze/clickstream_events: {days: 400, partition: event_date}\n"
        "  bronze/quarantine: {days: 30, partition: landing_date}\n"
        "landing:\n  clickstream: {days: 400}\n"
    )
    results = {r.place: r for r in apply_retention(p, load_policy(policy_file), today)}
    assert results["bronze.clickstream_events"].partitions_deleted == 2
    assert results["bronze.clickstream_events"].rows_deleted == 4
    assert results["bronze.quarantine"].rows_deleted == 0  # no table yet: nothing to do
    assert results["landing/clickstream"].partitions_deleted == 1
    left = pl.from_arrow(storage.read_table(table))
    assert (
        sorted(left["event_date"].unique().to_list()) == days[2:]
    )  # day 400 is kept (not older than cutoff)
    assert scan_tree(table, [OLD_USER]) == []
    assert not (p.landing / "clickstream" / days[0].isoformat()).exists()
    assert (p.landing / "clickstream" / days[-1].isoformat()).exists()
    again = apply_retention(p, load_policy(policy_file), today)
    assert sum(r.rows_deleted + r.partitions_deleted for r in again) == 0


def test_shipped_policy_and_bad_rules() -> None:
    policy = load_policy()
    rules = {f"{r.layer}/{r.name}": r.days for r in policy.tables}
    assert rules["bronze/clickstream_events"] == 400 and rules["bronze/quarantine"] == 30
    with pytest.raises(ValueError, match="days > 0"):
        parse_policy({"tables": {"bronze/x": {"days": 0, "partition": "event_date"}}})


def test_retention_job_runs_the_policy(data_dir: Path, tmp_path: Path) -> None:
    from orchestration.assets.privacy import privacy_retention_job
    from orchestration.resources import LakehouseResource

    p = paths(data_dir)
    table = p.table("bronze", "quarantine")
    for day in (dt.date(2026, 1, 1), dt.date(2026, 3, 1)):
        storage.write_partitions(
            table, pl.DataFrame({"raw_payload": ["x"], "landing_date": [day]}), ["landing_date"]
        )
    policy = tmp_path / "p.yaml"
    policy.write_text("tables:\n  bronze/quarantine: {days: 30, partition: landing_date}\n")
    result = privacy_retention_job.execute_in_process(
        run_config={
            "ops": {"apply_retention_policy": {"config": {"policy_file": str(policy), "today": "2026-03-10"}}}
        },
        resources={"lakehouse": LakehouseResource(data_dir=str(data_dir))},
    )
    assert result.success and result.output_for_node("apply_retention_policy") == 1
    assert pl.from_arrow(storage.read_table(table))["landing_date"].to_list() == [dt.date(2026, 3, 1)]
