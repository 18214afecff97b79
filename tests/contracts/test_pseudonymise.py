"""Pseudonyms are real HMAC-SHA256, the same in SQL and Python, and keyed."""

from __future__ import annotations

import hashlib
import hmac

import polars as pl
import pytest

from lakehouse.pseudonymise import (
    DEMO_KEY,
    DemoKeyWarning,
    pseudonymise_columns,
    pseudonymise_value,
    resolve_key,
)


@pytest.mark.parametrize("key", ["k", "x" * 64, "y" * 100, "schlüssel-🔑"])
def test_vectorised_equals_python_hmac(key: str) -> None:
    ids = ["u1", "ü2", "", "a" * 300, "17850"]
    frame = pl.DataFrame({"user_id": [*ids, None], "n": range(len(ids) + 1)})
    out = pseudonymise_columns(frame, ["user_id", "not_there"], key)
    expected = [hmac.new(key.encode(), i.encode(), hashlib.sha256).hexdigest() for i in ids]
    assert out["user_id"].to_list() == [*expected, None]
    assert out["n"].to_list() == frame["n"].to_list()


def test_key_changes_pseudonym_and_same_id_same_pseudonym() -> None:
    frame = pl.DataFrame({"a": ["u1", "u1", "u2"]})
    one = pseudonymise_columns(frame, ["a"], "key-one")["a"]
    two = pseudonymise_columns(frame, ["a"], "key-two")["a"]
    assert one[0] == one[1] != one[2]
    assert one[0] != two[0]
    assert pseudonymise_value("u1", "key-one") == one[0]


def test_demo_key_is_loud(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BEACON_HMAC_KEY", raising=False)
    with pytest.warns(DemoKeyWarning, match="NOT FOR PRODUCTION"):
        assert resolve_key() == DEMO_KEY
    monkeypatch.setenv("BEACON_HMAC_KEY", "secret")
    assert resolve_key() == "secret"
