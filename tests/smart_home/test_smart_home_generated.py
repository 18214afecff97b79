"""The smart-home marts over generated and landed data: the occupancy rule meets its floor.

Slow: generates a small data set with ``lakehouse.generator``, lands it with ``lakehouse.landing``
and runs the full smart-home dbt build (about two minutes on two cores).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys

import pytest
from smart_home_dbt import SmartHomeBuild, dbt_args, run_dbt

from lakehouse.config import PROJECT_ROOT, paths

KEY = "smart-home-generated-key-0123456789"
START, DAYS = dt.date(2026, 1, 5), 21
#: Floors for the occupancy rule against the generator's truth (measured: precision 0.994,
#: recall 0.966, accuracy 0.988 with 30 homes, 21 days, seed 11).
MIN_PRECISION, MIN_RECALL, MIN_ACCURACY = 0.95, 0.90, 0.95


def _bench():
    path = PROJECT_ROOT / "bench" / "report_occupancy_accuracy.py"
    spec = importlib.util.spec_from_file_location("report_occupancy_accuracy", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated_build(tmp_path_factory: pytest.TempPathFactory) -> SmartHomeBuild:
    from lakehouse.generator.run import generate
    from lakehouse.landing.engine import land

    data = paths(tmp_path_factory.mktemp("smart_home_generated") / "data")
    data.root.mkdir(parents=True)
    generate(data.landing, data.truth, users=300, homes=30, days=DAYS, start=START, seed=11)
    land(data, KEY)
    run = run_dbt(
        dbt_args(
            "build",
            data.root.parent / "target",
            variables={"reference_date": (START + dt.timedelta(days=DAYS)).isoformat()},
        ),
        data.root,
    )
    return SmartHomeBuild(fixture=data, run=run, db_path=data.build / "marts_build.duckdb")


@pytest.mark.slow
def test_generated_build_passes_every_test(generated_build: SmartHomeBuild) -> None:
    run = generated_build.run
    assert run.success, {k: v for k, v in run.statuses.items() if v not in ("success", "pass")}
    assert len(run.of_type("unit_test.")) >= 7


@pytest.mark.slow
def test_occupancy_rule_meets_its_floor_on_generated_truth(generated_build: SmartHomeBuild) -> None:
    report = _bench().occupancy_accuracy(
        generated_build.db_path, generated_build.fixture.truth / "occupancy.parquet", KEY
    )
    assert report.coverage > 0.95
    assert report.overall.precision >= MIN_PRECISION, report.overall
    assert report.overall.recall >= MIN_RECALL, report.overall
    assert report.overall.accuracy >= MIN_ACCURACY, report.overall


@pytest.mark.slow
def test_profiles_and_planted_anomalies_on_generated_data(generated_build: SmartHomeBuild) -> None:
    import polars as pl

    profile = generated_build.query(
        "select home_id, count(*) n from marts.mart_home_occupancy_profile group by 1"
    )
    assert profile.height == 30 and (profile["n"] == 168).all()
    planted = pl.read_parquet(generated_build.fixture.truth / "appliance_anomalies.parquet")
    flags = generated_build.query("select device_id, is_degrading from marts.mart_appliance_anomalies")
    flagged = set(flags.filter(pl.col("is_degrading"))["device_id"])
    found = flagged & set(planted["device_id"])
    # device ids are not pseudonymised, so the planted anomalies can be matched directly
    assert len(found) >= 0.5 * planted.height, (flagged, planted)
    assert len(flagged - set(planted["device_id"])) <= max(1, planted.height // 2)
