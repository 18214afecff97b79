"""Shared, expensive dbt builds of the marts tests (built once per test session)."""

from __future__ import annotations

from pathlib import Path

import pytest
from marts_bronze_fixture import write_clickstream, write_empty_side_tables
from marts_dbt_runner import run_dbt
from marts_scenario import REFERENCE_DATE, scenario_events

CLICKSTREAM = "tag:clickstream"


@pytest.fixture(scope="session")
def scenario_full_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole scenario landed at once and built with one full refresh; returns the data root."""
    root = tmp_path_factory.mktemp("marts-full") / "data"
    root.mkdir()
    write_clickstream(root, scenario_events())
    write_empty_side_tables(root)
    run_dbt(
        root, "build", "--full-refresh", "--select", CLICKSTREAM, dbt_vars={"reference_date": REFERENCE_DATE}
    )
    return root
