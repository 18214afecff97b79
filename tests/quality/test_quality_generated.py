"""Clean generated data (``beacon generate`` + landing) passes every check, per delivery day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from expectations.distribution import distribution_frame
from expectations.model import Severity
from expectations.suites import run_bronze, run_distribution, run_ledger
from lakehouse.config import DataPaths, paths
from lakehouse.generator import generate
from lakehouse.landing import land

START = dt.date(2026, 1, 1)
DAYS = 6


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> DataPaths:
    p = paths(tmp_path_factory.mktemp("generated") / "data")
    generate(p.landing, p.truth, users=300, homes=2, days=DAYS, start=START, seed=11)
    land(p, "beacon-test-key-0123456789abcdef")
    return p


@pytest.mark.parametrize("table", ["clickstream_events", "sensor_readings"])
def test_generated_and_landed_data_passes_every_check(landed: DataPaths, table: str) -> None:
    day = START + dt.timedelta(days=DAYS - 2)
    runs = [
        run_bronze(landed, table, day),
        run_ledger(landed, table, day),
        run_distribution(landed, table, day),
    ]
    for run in runs:
        failed = {c.name: c.observed_markdown() for c in run.checks() if not c.passed}
        assert failed == {}, (run.suite.name, failed)
    bronze = runs[0]
    assert bronze.rows > 1000
    judged = distribution_frame(landed.root, table, day).filter(pl.col("null_rate_jump").is_not_null())
    assert judged.height == 3  # the null-rate check had enough rows and history to judge every key field
    assert {c.severity for c in bronze.checks()} == {Severity.ERROR}
    assert Path(bronze.docs_url.removeprefix("file://")).is_file()
    assert (landed.gx / "uncommitted" / "data_docs" / "local_site" / "index.html").is_file()


@pytest.mark.slow
def test_real_bronze_assets_with_quality_checks(tmp_path: Path) -> None:
    """The lead's wiring: the landing multi-asset plus these checks, one delivery day, all pass."""
    from orchestration.assets import bronze, quality
    from orchestration.resources import LakehouseResource, PseudonymKeyResource

    p = paths(tmp_path / "data")
    generate(p.landing, p.truth, users=30, homes=2, days=3, start=START, seed=5)
    checks = [
        c for c in quality.defs.asset_checks if {k.asset_key.path[0] for k in c.check_keys} == {"bronze"}
    ]
    result = dg.materialize(
        [bronze.bronze_landing, *checks],
        partition_key=(START + dt.timedelta(days=1)).isoformat(),
        resources={
            "lakehouse": LakehouseResource(data_dir=str(p.root)),
            "pseudonym_key": PseudonymKeyResource(),
        },
        raise_on_error=False,
    )
    evals = result.get_asset_check_evaluations()
    assert result.success
    assert len(evals) >= 2 * 8
    assert all(e.passed for e in evals), [(e.asset_key, e.check_name) for e in evals if not e.passed]
