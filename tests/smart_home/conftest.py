"""One shared dbt build of the smart-home marts over the planted fixture (per test session)."""

from __future__ import annotations

import pytest
import smart_home_fixture as fx
from smart_home_dbt import SmartHomeBuild, dbt_args, run_dbt


@pytest.fixture(scope="session")
def smart_home_build(tmp_path_factory: pytest.TempPathFactory) -> SmartHomeBuild:
    """The fixture written under a fresh BEACON_DATA_DIR and ``dbt build`` of the smart-home graph."""
    root = tmp_path_factory.mktemp("smart_home") / "data"
    root.mkdir()
    fixture = fx.build(root, fx.FIXTURE_KEY)
    run = run_dbt(
        dbt_args(
            "build", root.parent / "target", variables={"reference_date": fx.REFERENCE_DATE.isoformat()}
        ),
        root,
    )
    return SmartHomeBuild(fixture=fixture, run=run, db_path=root / "build" / "marts_build.duckdb")
