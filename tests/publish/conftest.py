"""Fixtures for the publishing tests: build files shaped like the dbt project's, written in-test."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

BuildFactory = Callable[..., Path]


def write_build_db(path: Path, tag: str, rows: int = 1_000, *, extra_sql: tuple[str, ...] = ()) -> Path:
    """(Re)write a build file like dbt's: staging/intermediate internals, marts, scores, transient dbt tables.

    Every row carries ``run_tag = tag`` so a reader can tell which build a snapshot came from; the
    file is replaced wholesale (as a fresh dbt build would) so no earlier tag survives.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    Path(f"{path}.wal").unlink(missing_ok=True)
    t = tag.replace("'", "''")
    with contextlib.closing(duckdb.connect(str(path))) as con:
        for schema in ("staging", "intermediate", "marts", "scores", "other"):
            con.execute(f"CREATE SCHEMA {schema}")
        con.execute(
            f"CREATE TABLE staging.stg_events AS SELECT range AS event_id, range % 97 AS user_key, "
            f"'{t}' AS run_tag FROM range({rows})"
        )
        con.execute(
            "CREATE TABLE intermediate.int_user_events AS "
            "SELECT user_key, count(*) AS events, any_value(run_tag) AS run_tag FROM staging.stg_events GROUP BY ALL"
        )
        con.execute(
            "CREATE TABLE marts.fct_events AS SELECT event_id, user_key, (event_id % 13)::DOUBLE * 1.5 AS amount, "
            "TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds(event_id) AS occurred_at, run_tag "
            "FROM staging.stg_events"
        )
        con.execute("COMMENT ON TABLE marts.fct_events IS 'One row per event.'")
        con.execute("COMMENT ON COLUMN marts.fct_events.amount IS 'Amount in EUR.'")
        con.execute(
            "CREATE TABLE marts.dim_users AS SELECT user_key, events, run_tag FROM intermediate.int_user_events"
        )
        # A mart materialised as a view over staging: must arrive as a table (staging is not published).
        con.execute(
            "CREATE VIEW marts.v_big_spenders AS SELECT event_id, run_tag FROM staging.stg_events WHERE event_id % 10 = 0"
        )
        # dbt's transient relations: never finished tables.
        con.execute("CREATE TABLE marts.fct_events__dbt_tmp AS SELECT 1 AS half_built")
        con.execute("CREATE TABLE marts.dim_users__dbt_backup AS SELECT 1 AS old")
        con.execute(
            "CREATE TABLE scores.churn_scores AS SELECT user_key, 0.5 AS score, run_tag FROM marts.dim_users"
        )
        con.execute("CREATE TABLE other.scratch AS SELECT 42 AS x")
        for sql in extra_sql:
            con.execute(sql)
    return path


@pytest.fixture
def build_db(tmp_path: Path) -> BuildFactory:
    """``build_db(tag, rows=..., extra_sql=...)`` (re)writes ``<tmp>/data/build/marts_build.duckdb``."""
    target = tmp_path / "data" / "build" / "marts_build.duckdb"

    def make(tag: str, rows: int = 1_000, extra_sql: tuple[str, ...] = ()) -> Path:
        return write_build_db(target, tag, rows, extra_sql=extra_sql)

    return make


@pytest.fixture
def published_db(tmp_path: Path) -> Path:
    target = tmp_path / "data" / "marts.duckdb"
    target.parent.mkdir(parents=True, exist_ok=True)
    return target
