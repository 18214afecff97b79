"""The consent table: parsing, and the as-of application on validated events before pseudonymisation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from lakehouse.privacy.consent import ConsentTableError, apply_consent, load_consent

UTC = dt.UTC


def _events() -> pl.DataFrame:
    t = [dt.datetime(2026, 2, d, 12, tzinfo=UTC) for d in (1, 2, 3, 4, 5)]
    return pl.DataFrame(
        {
            "event_id": ["e1", "e2", "e3", "e4", "e5", "e6"],
            "user_id": ["u1", "u1", "u1", "u2", None, "u3"],
            "occurred_at": [t[3], t[0], t[2], t[4], t[4], t[1]],
            "consent_analytics": [True, True, True, True, True, False],
            "consent_personalization": [True, True, True, True, True, False],
        },
        schema_overrides={"occurred_at": pl.Datetime("us", "UTC")},
    )


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_consent_table_applies_as_of_event_time(tmp_path: Path) -> None:
    _write(
        tmp_path / "consent",
        "a.csv",
        "user_id,consent_analytics,consent_personalization,effective_at\n"
        "u1,true,false,2026-02-03T00:00:00Z\n"
        "u1,false,false,2026-02-04T13:00:00+01:00\n"  # = 12:00 UTC: applies to an event at 12:00 UTC
        "u3,true,true,2026-01-01T00:00:00Z\n",
    )
    _write(
        tmp_path / "consent",
        "b.csv",
        "user_id,consent_analytics,consent_personalization,effective_at\nu2,yes,no,2026-02-05T12:00:00Z\n",
    )
    table = load_consent(tmp_path)
    assert table is not None and table.height == 4
    out = apply_consent(_events(), table)
    assert out.columns == _events().columns and out["event_id"].to_list() == _events()["event_id"].to_list()
    got = {
        r["event_id"]: (r["consent_analytics"], r["consent_personalization"])
        for r in out.iter_rows(named=True)
    }
    assert got == {
        "e1": (False, False),  # after both changes
        "e2": (True, True),  # before any change: the event's own flags
        "e3": (True, False),  # after the personalisation withdrawal only
        "e4": (True, False),  # u2 at exactly effective_at: applies
        "e5": (True, True),  # no user id: the table cannot apply
        "e6": (False, False),  # the table never grants what the event's banner refused
    }


def test_no_table_changes_nothing(tmp_path: Path) -> None:
    assert load_consent(tmp_path) is None
    assert apply_consent(_events(), None).equals(_events())


@pytest.mark.parametrize(
    "row", ["u1,maybe,true,2026-02-01T00:00:00Z", "u1,true,true,yesterday", ",true,true,2026-02-01T00:00:00Z"]
)
def test_bad_rows_are_refused_with_the_line(tmp_path: Path, row: str) -> None:
    _write(
        tmp_path / "consent",
        "a.csv",
        f"user_id,consent_analytics,consent_personalization,effective_at\n{row}\n",
    )
    with pytest.raises(ConsentTableError, match=r"line\(s\) \[2\]"):
        load_consent(tmp_path)
