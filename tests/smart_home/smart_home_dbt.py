"""Run the smart-home part of Beacon's dbt project through dagster-dbt, isolated from other runs.

Each run gets its own ``--target-path`` and log path (so parallel helpers and test sessions never
share ``dbt_project/target``) and its own ``BEACON_DATA_DIR`` (so the build DuckDB file and the
bronze tables are the test's own). ``DbtCliResource`` runs dbt in a subprocess, which inherits
``BEACON_DATA_DIR`` for the duration of the call; a subprocess also releases the build DuckDB
file when it exits (an in-process dbt keeps it open, blocking read-only readers).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from dagster_dbt import DbtCliResource

from lakehouse.config import PROJECT_ROOT

DBT_PROJECT = PROJECT_ROOT / "dbt_project"
SMART_HOME_SELECTOR = "path:models/staging/smart_home+"
#: The venv's dbt (the venv's bin folder need not be on PATH).
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")


def dbt_args(
    command: str,
    target_path: Path,
    select: Sequence[str] = (SMART_HOME_SELECTOR,),
    variables: Mapping[str, Any] | None = None,
) -> list[str]:
    """The dbt CLI arguments of one isolated run (pure: unit-tested on its own)."""
    args = [
        command,
        "--project-dir",
        str(DBT_PROJECT),
        "--profiles-dir",
        str(DBT_PROJECT),
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path / "logs"),
    ]
    if select:
        args += ["--select", *select]
    if variables:
        args += ["--vars", json.dumps(dict(variables), sort_keys=True, default=str)]
    return args


@contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


@dataclass(frozen=True)
class DbtRun:
    """What a dbt invocation did: overall success and the status of every node it ran."""

    success: bool
    statuses: dict[str, str]  # unique_id -> status (success, pass, fail, error, skipped)
    exception: BaseException | None

    def of_type(self, prefix: str) -> dict[str, str]:
        """Statuses of nodes whose unique_id starts with ``prefix`` (model., test., unit_test.)."""
        return {k: v for k, v in self.statuses.items() if k.startswith(prefix)}


def run_dbt(args: list[str], data_dir: Path) -> DbtRun:
    """Run dbt (``args`` from :func:`dbt_args`) with ``BEACON_DATA_DIR=data_dir``; never raises on failure."""
    (data_dir / "build").mkdir(parents=True, exist_ok=True)
    target = Path(args[args.index("--target-path") + 1])
    dbt = DbtCliResource(
        project_dir=str(DBT_PROJECT), profiles_dir=str(DBT_PROJECT), dbt_executable=DBT_EXECUTABLE
    )
    with _env("BEACON_DATA_DIR", str(data_dir)):
        invocation = dbt.cli(args, raise_on_error=False, target_path=target)
        invocation.wait()
    statuses: dict[str, str] = {}
    error: BaseException | None = None
    try:
        results = invocation.get_artifact("run_results.json")["results"]
        statuses = {r["unique_id"]: str(r["status"]) for r in results}
    except FileNotFoundError as exc:  # dbt failed before running anything (e.g. a parse error)
        error = exc
    return DbtRun(success=invocation.is_successful(), statuses=statuses, exception=error)


@dataclass(frozen=True)
class SmartHomeBuild:
    """A fixture's data root, the dbt run over it, and read-only queries on its build DuckDB file."""

    fixture: Any
    run: DbtRun
    db_path: Path

    def query(self, sql: str) -> pl.DataFrame:
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            return con.sql(sql).pl()
