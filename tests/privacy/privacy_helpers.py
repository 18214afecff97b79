"""Shared helpers for the privacy tests: a small landed lakehouse and tree fingerprints."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import polars as pl

from lakehouse import storage
from lakehouse.config import DataPaths


def table_frame(path: Path) -> pl.DataFrame:
    frame = pl.from_arrow(storage.read_table(path))
    assert isinstance(frame, pl.DataFrame)
    return frame


def rows_digest(frame: pl.DataFrame, order: list[str]) -> str:
    """A content checksum of a frame independent of row order (rows sorted by ``order``)."""
    return hashlib.sha256(frame.sort(order).write_csv().encode()).hexdigest()


def pick_person(p: DataPaths, key: str) -> tuple[str, str]:
    """A raw user id with landed events and a linked home, and that home's raw id (from truth)."""
    from lakehouse.pseudonymise import pseudonymise_value

    homes = pl.read_parquet(p.truth / "homes.parquet").filter(pl.col("user_id").is_not_null())
    users = set(
        pl.from_arrow(storage.read_table(p.table("bronze", "clickstream_events"), columns=["user_id"]))[
            "user_id"
        ].to_list()
    )
    for raw, home in zip(homes["user_id"].to_list(), homes["home_id"].to_list(), strict=True):
        if pseudonymise_value(raw, key) in users:
            return raw, home
    raise AssertionError("no shopper with a linked home has landed events in this data set")


def build_and_publish_marts(p: DataPaths) -> None:
    """A stand-in for the dbt build (marts + scores from bronze) and two publications (current + previous)."""
    from lakehouse.publish import build_db_path, publish_marts

    build = build_db_path(p.build)
    build.parent.mkdir(parents=True, exist_ok=True)
    events = storage.read_table(p.table("bronze", "clickstream_events"), columns=["user_id", "anonymous_id"])
    sensors = storage.read_table(p.table("bronze", "sensor_readings"), columns=["home_id", "user_id"])
    with duckdb.connect(str(build)) as con:
        con.register("events", events)
        con.register("sensors", sensors)
        con.execute("CREATE SCHEMA marts; CREATE SCHEMA scores")
        con.execute(
            "CREATE TABLE marts.dim_users AS SELECT user_id, count(*) AS events FROM events "
            "WHERE user_id IS NOT NULL GROUP BY ALL"
        )
        con.execute(
            "CREATE TABLE marts.devices AS SELECT DISTINCT anonymous_id FROM events WHERE anonymous_id IS NOT NULL"
        )
        con.execute(
            "CREATE TABLE marts.homes AS SELECT home_id, count(*) AS readings FROM sensors GROUP BY ALL"
        )
        con.execute(
            "CREATE TABLE scores.user_recommendations AS SELECT user_id, ['sku-1', 'sku-2'] AS items "
            "FROM marts.dim_users"
        )
    publish_marts(build, p.marts, ("marts", "scores"), run_id="first")
    publish_marts(build, p.marts, ("marts", "scores"), run_id="second")


START = dt.date(2026, 1, 1)
