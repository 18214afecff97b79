"""A bronze table that breaks the staging contract makes the smart-home data tests fail."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import smart_home_fixture as fx
from smart_home_dbt import dbt_args, run_dbt

pytestmark = pytest.mark.slow  # builds the dbt project


def test_violating_bronze_fails_the_staging_data_tests(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    good = fx.sensor_frame(fx.FIXTURE_KEY).head(500)
    # a motion sensor reporting 0.5 and an unknown sensor type slipped past the contract;
    # a re-delivered reading (same reading_id, landed later) must NOT fail: staging keeps one copy
    bad = pl.concat(
        [
            good,
            good.head(1).with_columns(
                pl.lit("r-bad-1").alias("reading_id"),
                pl.lit("motion").alias("sensor_type"),
                pl.lit("bool").alias("unit"),
                pl.lit(0.5).alias("value"),
            ),
            good.head(1).with_columns(
                pl.lit("r-bad-2").alias("reading_id"), pl.lit("radiation").alias("sensor_type")
            ),
            good.head(1).with_columns(pl.col("_landed_at") + pl.duration(hours=1)),
        ]
    )
    fx.write_bronze(root, "sensor_readings", bad, "sensors")
    fx.write_bronze(root, "clickstream_events", fx.clickstream_frame(fx.FIXTURE_KEY), "clickstream")

    run = run_dbt(dbt_args("build", tmp_path / "target", select=["stg_sensor_readings"]), root)

    assert not run.success
    failed = {k.split(".")[2] for k, v in run.of_type("test.").items() if v == "fail"}
    assert any(name.startswith("expression_is_true_stg_sensor_readings_not_is_binary") for name in failed), (
        failed
    )
    assert any(name.startswith("accepted_values_stg_sensor_readings_sensor_type") for name in failed), failed
    passed = {k.split(".")[2] for k, v in run.of_type("test.").items() if v == "pass"}
    assert "unique_stg_sensor_readings_reading_id" in passed
    assert run.of_type("model.") == {"model.beacon.stg_sensor_readings": "success"}
