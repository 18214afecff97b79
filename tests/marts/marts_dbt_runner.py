"""Run the real dbt project against a data root, isolated from other runs.

Every call gets its own target and log folders under the data root, so concurrent dbt runs (other
tests, other helpers) never share partial-parse state or artifacts.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from orchestration.dbt_project import DBT_PROJECT_DIR, dbt_env, dbt_executable

CLICKSTREAM_TABLES = (
    "staging.stg_clickstream__events",
    "intermediate.int_clickstream__identity_map",
    "intermediate.int_clickstream__sessions",
    "marts.fct_sessions",
    "marts.mart_event_exclusions",
    "marts.dim_users",
    "marts.mart_rfm",
    "marts.mart_rfm_movement",
    "marts.mart_user_segments",
    "marts.mart_category_preferences",
    "marts.mart_user_product_affinity",
    "marts.mart_interaction_matrix",
    "marts.mart_product_funnel",
    "marts.mart_category_funnel",
    "marts.mart_experiment_readout",
)


def run_dbt(
    root: Path,
    *args: str,
    dbt_vars: dict[str, Any] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``dbt <args>`` with BEACON_DATA_DIR=root; raises with dbt's output when it fails and check=True."""
    (root / "build").mkdir(parents=True, exist_ok=True)
    command = [
        dbt_executable(),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(root / "dbt_target"),
        "--log-path",
        str(root / "dbt_logs"),
    ]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    result = subprocess.run(
        command, cwd=DBT_PROJECT_DIR, env=dbt_env(root), capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
        )
    return result


def build_file(root: Path) -> Path:
    return root / "build" / "marts_build.duckdb"


def read_table(root: Path, table: str, order_by: str | None = None) -> pl.DataFrame:
    """A table of the build file as polars (read-only connection, closed right away)."""
    with duckdb.connect(str(build_file(root)), read_only=True) as con:
        sql = f"select * from {table}" + (f" order by {order_by}" if order_by else "")
        return con.sql(sql).pl()


def canonical(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows in a canonical order (all columns), so two builds compare exactly."""
    return frame.sort(frame.columns, nulls_last=True)
