"""The bronze Dagster assets, sensor, schedule and compaction job, run for real on tmp Delta tables."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import polars as pl
from helpers_landing import table
from landing_files import event, reading, write_csv, write_jsonl

from orchestration.assets.bronze import (
    BRONZE_PARTITIONS,
    CLICKSTREAM_KEY,
    QUARANTINE_KEY,
    SENSORS_KEY,
    bronze_daily_schedule,
    bronze_landing,
    bronze_landing_sensor,
    defs,
    markdown_preview,
    range_tags,
    safe_preview,
)
from orchestration.resources import default_resources

DAY = "2026-01-05"


def _defs() -> dg.Definitions:
    return dg.Definitions.merge(defs, dg.Definitions(resources=default_resources()))


def _materialisations(result: dg.ExecuteInProcessResult) -> dict[dg.AssetKey, dict]:
    return {m.asset_key: m.metadata for m in result.asset_materializations_for_node("bronze_landing")}


def test_partition_materialisation_reports_counts_version_and_preview(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    write_jsonl(
        landing / f"clickstream/{DAY}/events-{DAY}-000.jsonl.gz",
        [event(i) for i in range(12)] + [event(3), "broken"],
    )
    write_csv(landing / f"sensors/{DAY}/readings-{DAY}-000.csv.gz", [reading(i) for i in range(5)])
    result = dg.materialize([bronze_landing], partition_key=DAY, resources=default_resources())
    assert result.success
    meta = _materialisations(result)
    assert set(meta) == {CLICKSTREAM_KEY, SENSORS_KEY, QUARANTINE_KEY}
    c = meta[CLICKSTREAM_KEY]
    assert (
        c["files"].value,
        c["lines_read"].value,
        c["rows_landed"].value,
        c["rows_quarantined"].value,
        c["duplicates"].value,
    ) == (1, 14, 12, 1, 1)
    assert c["bytes"].value == (landing / f"clickstream/{DAY}/events-{DAY}-000.jsonl.gz").stat().st_size
    assert c["delta_version"].value == 1  # version 0 is the empty table landing creates first
    assert "| event_id |" in c["preview"].value and "e-000000" in c["preview"].value
    s = meta[SENSORS_KEY]
    assert (s["files"].value, s["rows_landed"].value, s["delta_version"].value) == (1, 5, 1)
    q = meta[QUARANTINE_KEY]
    assert q["rows_landed"].value == 1 and "malformed_json[line]" in q["preview"].value
    assert "raw_payload" not in q["preview"].value  # raw lines carry (pseudonymised) identifiers

    # the same partition again through the job: nothing new, versions unchanged
    job = _defs().resolve_job_def("bronze_landing_job")
    again = _materialisations(job.execute_in_process(partition_key=DAY))
    assert (
        again[CLICKSTREAM_KEY]["rows_landed"].value == 0
        and again[CLICKSTREAM_KEY]["delta_version"].value == 1
    )
    assert table(data_dir, "clickstream_events").height == 12


def test_sensor_requests_one_idempotent_run_per_delivery_day(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    resources = default_resources()
    ctx = dg.build_sensor_context(resources=resources)
    assert bronze_landing_sensor(ctx).run_requests == []
    f = write_jsonl(landing / f"clickstream/{DAY}/events-{DAY}-000.jsonl.gz", [event(i) for i in range(3)])
    write_csv(landing / f"sensors/{DAY}/readings-{DAY}-000.csv.gz", [reading(1)])
    write_jsonl(landing / "clickstream/2026-01-06/events-2026-01-06-000.jsonl.gz", [event(10)])
    first = bronze_landing_sensor(dg.build_sensor_context(resources=resources)).run_requests
    assert sorted(r.partition_key for r in first) == [DAY, "2026-01-06"]
    again = bronze_landing_sensor(dg.build_sensor_context(resources=resources)).run_requests
    assert [r.run_key for r in again] == [r.run_key for r in first]  # same pending files, same keys

    dg.materialize([bronze_landing], partition_key=DAY, resources=resources)
    after = bronze_landing_sensor(dg.build_sensor_context(resources=resources)).run_requests
    assert [r.partition_key for r in after] == ["2026-01-06"]
    assert after[0].run_key == next(r.run_key for r in first if r.partition_key == "2026-01-06")
    # a renamed copy is a new file to the sensor (its run will record it as duplicate content)
    shutil.copy(f, landing / f"clickstream/{DAY}/events-{DAY}-copy.jsonl.gz")
    with_copy = bronze_landing_sensor(dg.build_sensor_context(resources=resources)).run_requests
    assert sorted(r.partition_key for r in with_copy) == [DAY, "2026-01-06"]
    dg.materialize([bronze_landing], partition_key=DAY, resources=resources)
    assert [
        r.partition_key
        for r in bronze_landing_sensor(dg.build_sensor_context(resources=resources)).run_requests
    ] == ["2026-01-06"]
    assert table(data_dir, "clickstream_events").height == 3


def test_schedule_lands_the_day_that_ended_and_partitions_are_daily() -> None:
    ctx = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 1, 6, 0, 30, tzinfo=dt.UTC))
    request = bronze_daily_schedule(ctx)
    assert request.partition_key == "2026-01-05" and request.run_key == "bronze-schedule:2026-01-05"
    assert isinstance(BRONZE_PARTITIONS, dg.DailyPartitionsDefinition)
    assert BRONZE_PARTITIONS.has_partition_key("2026-01-05")
    spec = bronze_landing.specs_by_key[CLICKSTREAM_KEY]
    assert spec.group_name == "bronze" and {"delta", "polars"} <= set(spec.kinds)


def test_compaction_job_bounds_files(landing: Path, data_dir: Path, hmac_key: str) -> None:
    for n in range(6):
        day = f"2026-01-{5 + n:02d}"
        write_jsonl(
            landing / f"clickstream/{day}/events-{day}-000.jsonl.gz",
            [
                event(n * 10 + i, occurred_at="2026-01-05T10:00:00+00:00", received_at="2026-01-05T10:00:01Z")
                for i in range(10)
            ],
        )
        dg.materialize([bronze_landing], partition_key=day, resources=default_resources())
    job = _defs().resolve_job_def("bronze_compaction_job")
    result = job.execute_in_process(
        run_config={
            "ops": {"compact_bronze": {"config": {"max_files_per_partition": 2, "retention_hours": 0}}}
        }
    )
    summary = result.output_for_node("compact_bronze")
    assert summary["clickstream_events"]["files_before"] == 6
    assert summary["clickstream_events"]["max_files_per_partition"] == 1
    assert summary["_landing_log"]["files_after"] == 1
    assert table(data_dir, "clickstream_events").height == 60


def test_markdown_preview_escapes_and_cuts() -> None:
    md = markdown_preview(pl.DataFrame({"a": ["x|y", "z" * 40], "b": [1, None]}), width=5)
    assert md.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 1 |", "| zzzzz |  |"]


def test_unreadable_file_fails_the_run_after_the_others_landed(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    write_jsonl(landing / f"clickstream/{DAY}/events-{DAY}-000.jsonl.gz", [event(i) for i in range(4)])
    broken = landing / f"clickstream/{DAY}/events-{DAY}-001.jsonl.gz"
    broken.write_bytes(write_jsonl(broken, [event(9)]).read_bytes()[:20])  # gzip cut short
    result = dg.materialize(
        [bronze_landing], partition_key=DAY, resources=default_resources(), raise_on_error=False
    )
    assert not result.success
    assert table(data_dir, "clickstream_events").height == 4
    failure = next(e for e in result.all_events if e.is_step_failure)
    user_failure = failure.step_failure_data.user_failure_data
    assert "could not be read" in user_failure.description
    assert f"events-{DAY}-001.jsonl.gz" in user_failure.metadata["failed_files"].value
    log = table(data_dir, "_landing_log")
    assert log["source_file"].to_list() == [f"clickstream/{DAY}/events-{DAY}-000.jsonl.gz"]
    # re-delivered intact: the next run lands it
    write_jsonl(broken, [event(9)])
    dg.materialize([bronze_landing], partition_key=DAY, resources=default_resources())
    assert table(data_dir, "clickstream_events").height == 5


def test_preview_metadata_shows_no_identifier(landing: Path, data_dir: Path, hmac_key: str) -> None:
    """Dagster's event log must not keep identifiers (an erasure would miss them): the preview
    drops user_id, anonymous_id, home_id and raw payloads, and masks pseudonyms left in text."""
    from landing_files import RAW_ANON, RAW_HOME, RAW_USER

    from lakehouse.pseudonymise import pseudonymise_value

    write_jsonl(
        landing / f"clickstream/{DAY}/events-{DAY}-000.jsonl.gz",
        [event(i) for i in range(6)] + [event(7, event_type="bogus")],
    )
    write_csv(landing / f"sensors/{DAY}/readings-{DAY}-000.csv.gz", [reading(i) for i in range(4)])
    result = dg.materialize([bronze_landing], partition_key=DAY, resources=default_resources())
    meta = _materialisations(result)
    pseudonyms = [pseudonymise_value(f"{RAW_USER}-{i}", hmac_key) for i in range(7)]
    pseudonyms += [pseudonymise_value(f"{RAW_ANON}-{i}", hmac_key) for i in range(5)]
    pseudonyms += [pseudonymise_value(f"{RAW_HOME}-{i}", hmac_key) for i in range(3)]
    for key in (CLICKSTREAM_KEY, SENSORS_KEY, QUARANTINE_KEY):
        preview = meta[key]["preview"].value
        header = preview.splitlines()[0]
        assert "| " in header and not {"user_id", "anonymous_id", "home_id", "raw_payload"} & {
            c.strip() for c in header.strip("|").split("|")
        }
        assert not [p for p in pseudonyms if p[:24] in preview]
        assert not [r for r in (RAW_USER, RAW_ANON, RAW_HOME) if r in preview]
    assert "event_id" in meta[CLICKSTREAM_KEY]["preview"].value
    assert "reading_id" in meta[SENSORS_KEY]["preview"].value
    # the tables themselves do hold the pseudonyms (the preview is what hides them)
    assert set(table(data_dir, "clickstream_events")["user_id"].to_list()) <= set(pseudonyms)
    masked = safe_preview(pl.DataFrame({"reason": [f"bad value '{pseudonyms[0]}'"], "user_id": ["x"]}))
    assert masked.columns == ["reason"] and masked["reason"][0] == "bad value '<pseudonym>'"


def test_a_range_of_days_is_one_run_with_the_ledger_equation(
    landing: Path, data_dir: Path, hmac_key: str
) -> None:
    """Single-run backfill: three delivery days land in ONE run (one commit per table)."""
    days = ["2026-01-05", "2026-01-06", "2026-01-07"]
    for n, day in enumerate(days):
        write_jsonl(
            landing / f"clickstream/{day}/events-{day}-000.jsonl.gz",
            [
                event(n * 10 + i, occurred_at=f"{day}T08:00:00+00:00", received_at=f"{day}T08:00:01Z")
                for i in range(4)
            ]
            + [event(n * 10), "not json"],
        )
        write_csv(
            landing / f"sensors/{day}/readings-{day}-000.csv.gz", [reading(n * 10 + i) for i in range(3)]
        )
    write_jsonl(landing / "clickstream/2026-01-08/events-2026-01-08-000.jsonl.gz", [event(99)])
    assert bronze_landing.backfill_policy == dg.BackfillPolicy.single_run()
    job = _defs().resolve_job_def("bronze_landing_job")
    result = job.execute_in_process(tags=range_tags(days[0], days[-1]))
    assert result.success
    materialisations = result.asset_materializations_for_node("bronze_landing")
    # one run; Dagster records the materialisation for each day of the range
    assert sorted(m.partition for m in materialisations if m.asset_key == CLICKSTREAM_KEY) == days
    c = next(m.metadata for m in materialisations if m.asset_key == CLICKSTREAM_KEY)
    totals = {k: c[k].value for k in ("files", "lines_read", "rows_landed", "rows_quarantined", "duplicates")}
    assert totals == {"files": 3, "lines_read": 18, "rows_landed": 12, "rows_quarantined": 3, "duplicates": 3}
    assert totals["lines_read"] == totals["rows_landed"] + totals["rows_quarantined"] + totals["duplicates"]
    assert c["delivery_days"].value == ", ".join(days)
    assert c["delta_version"].value == 1  # version 0 is the empty table: one commit for three days
    s = next(m.metadata for m in materialisations if m.asset_key == SENSORS_KEY)
    assert (s["files"].value, s["rows_landed"].value, s["delta_version"].value) == (3, 9, 1)
    assert table(data_dir, "clickstream_events").height == 12  # the 8th is outside the range
    log = table(data_dir, "_landing_log")
    assert log.height == 6 and log["landing_run_id"].n_unique() == 1
