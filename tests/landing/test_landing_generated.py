"""Landing the generator's data set, day by day through Dagster, matches its planted counts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from helpers_landing import leaks, table

from lakehouse.contracts import CLICKSTREAM
from lakehouse.landing.readers import read_native
from orchestration.assets.bronze import CLICKSTREAM_KEY, bronze_landing, bronze_landing_sensor
from orchestration.resources import default_resources

generator = pytest.importorskip("lakehouse.generator")


@pytest.mark.slow
def test_generated_days_land_with_the_planted_counts(data_dir: Path, hmac_key: str) -> None:
    landing, truth = data_dir / "landing", data_dir / "truth"
    generator.generate(
        out=landing, truth=truth, users=300, homes=4, days=4, start=dt.date(2026, 1, 1), seed=11
    )
    manifest = json.loads((truth / "manifest.json").read_text())
    resources = default_resources()
    requests = bronze_landing_sensor(dg.build_sensor_context(resources=resources)).run_requests
    days = sorted(r.partition_key for r in requests)
    assert days == [f"2026-01-0{d}" for d in range(1, 5)]
    landed = 0
    for day in days:
        result = dg.materialize([bronze_landing], partition_key=day, resources=resources)
        meta = {m.asset_key: m.metadata for m in result.asset_materializations_for_node("bronze_landing")}
        landed += meta[CLICKSTREAM_KEY]["rows_landed"].value
    assert bronze_landing_sensor(dg.build_sensor_context(resources=resources)).run_requests == []

    c, s = manifest["clickstream"], manifest["sensors"]
    events, readings, q = (
        table(data_dir, "clickstream_events"),
        table(data_dir, "sensor_readings"),
        table(data_dir, "quarantine"),
    )
    assert events.height == landed == c["valid_events"] and events["event_id"].n_unique() == events.height
    assert readings.height == s["readings"] - s["malformed_lines"]  # "readings" counts malformed ones too
    assert q.filter(pl.col("source") == "clickstream").height == c["malformed_lines"]
    assert q.filter(pl.col("source") == "sensors").height == s["malformed_lines"]
    log = table(data_dir, "_landing_log")
    assert log["duplicates"].sum() == c["duplicate_lines"] + s["duplicate_lines"]
    assert log["lines_read"].sum() == c["lines"] + s["lines"]
    # consent: events without analytics consent carry no identifiers
    no_consent = events.filter(~pl.col("consent_analytics"))
    # the manifest counts generated events; a few of them were made malformed and are quarantined
    assert c["no_consent_events"] - c["malformed_lines"] <= no_consent.height <= c["no_consent_events"]
    assert no_consent["anonymous_id"].null_count() == no_consent["user_id"].null_count() == no_consent.height
    assert events.filter(pl.col("consent_analytics"))["anonymous_id"].null_count() == 0
    # no raw identifier of the generated data anywhere under delta/
    f = sorted((landing / "clickstream/2026-01-02").glob("*.jsonl.gz"))[0]
    raw = read_native(f, CLICKSTREAM).records
    needles = [
        *raw["user_id"].drop_nulls().unique().head(20).to_list(),
        *raw["anonymous_id"].drop_nulls().unique().head(20).to_list(),
    ]
    assert len(needles) == 40 and leaks(data_dir, needles) == []
