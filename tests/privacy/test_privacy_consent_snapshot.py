"""The consent table's pseudonymised copy in bronze, and its effect on recommender inputs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from lakehouse import storage
from lakehouse.config import paths
from lakehouse.landing import land
from lakehouse.privacy.consent import SNAPSHOT_TABLE, withdrawn_personalisation
from lakehouse.privacy.scan import scan_tree
from lakehouse.pseudonymise import pseudonymise_value
from ml.sources import drop_withdrawn

HEADER = "user_id,consent_analytics,consent_personalization,effective_at\n"


def _consent(root: Path, body: str) -> None:
    path = paths(root).landing / "consent" / "consent.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + body)


def test_landing_keeps_a_pseudonymised_copy_rewritten_only_on_change(data_dir: Path, hmac_key: str) -> None:
    p = paths(data_dir)
    _consent(data_dir, "u1,true,false,2026-01-01T00:00:00Z\nu2,false,false,2026-01-02T00:00:00+01:00\n")
    land(p, hmac_key)
    table = p.table("bronze", SNAPSHOT_TABLE)
    first = storage.table_version(table)
    rows = pl.from_arrow(storage.read_table(table))
    assert isinstance(rows, pl.DataFrame)
    assert sorted(rows["user_id"].to_list()) == sorted(pseudonymise_value(u, hmac_key) for u in ("u1", "u2"))
    assert scan_tree(p.delta, ["u1,", "u2,"]) == [] and not any(v in ("u1", "u2") for v in rows["user_id"])

    land(p, hmac_key)  # same table: nothing written
    assert storage.table_version(table) == first
    _consent(data_dir, "u1,true,false,2026-01-01T00:00:00Z\nu1,true,true,2026-01-05T00:00:00Z\n")
    land(p, hmac_key)
    assert storage.table_version(table) == first + 1
    assert withdrawn_personalisation(p).height == 0  # u1 granted again, u2 is gone from the table


def test_withdrawn_is_the_latest_row_at_the_moment(data_dir: Path, hmac_key: str) -> None:
    p = paths(data_dir)
    _consent(
        data_dir,
        "a,true,false,2026-01-01T00:00:00Z\n"  # withdrawn
        "b,true,false,2026-01-01T00:00:00Z\nb,true,true,2026-01-03T00:00:00Z\n"  # withdrew, then granted
        "c,true,false,2026-02-01T00:00:00Z\n",  # withdraws later
    )
    land(p, hmac_key)
    at = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
    assert withdrawn_personalisation(p, at)["user_id"].to_list() == [pseudonymise_value("a", hmac_key)]
    later = withdrawn_personalisation(p, dt.datetime(2026, 3, 1, tzinfo=dt.UTC))["user_id"].to_list()
    assert sorted(later) == sorted(pseudonymise_value(u, hmac_key) for u in ("a", "c"))


def test_withdrawn_users_leave_training_and_get_no_personalisation() -> None:
    users = pl.DataFrame({"user_id": ["a", "b", "c"], "personalise": [True, True, False]})
    interactions = pl.DataFrame({"user_id": ["a", "b", "b", "c"], "item_id": ["x", "y", "z", "x"]})
    kept_users, kept = drop_withdrawn(users, interactions, pl.DataFrame({"user_id": ["b"]}))
    assert kept_users is not None
    assert kept_users.sort("user_id")["personalise"].to_list() == [True, False, False]
    assert kept["user_id"].to_list() == ["a", "c"]
    _, unchanged = drop_withdrawn(None, interactions, pl.DataFrame(schema={"user_id": pl.String}))
    assert unchanged.equals(interactions)
