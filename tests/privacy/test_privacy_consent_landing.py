"""The consent table through the real landing engine: the bronze rows honour it from the next run."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import polars as pl
from privacy_helpers import START, table_frame

from lakehouse.config import paths
from lakehouse.generator import generate
from lakehouse.landing import Lander
from lakehouse.pseudonymise import pseudonymise_value


def _landed_events(landing: Path) -> pl.DataFrame:
    lines = [
        json.loads(line)
        for f in sorted((landing / "clickstream").rglob("*.jsonl.gz"))
        for line in gzip.decompress(f.read_bytes()).splitlines()
        if line.startswith(b"{") and line.endswith(b"}")
    ]
    keys = ("event_id", "user_id", "occurred_at", "consent_analytics")
    frame = pl.DataFrame(
        {k: [None if r.get(k) is None else str(r[k]) for r in lines] for k in keys},
        schema=dict.fromkeys(keys, pl.String),
    )
    return frame.select(
        "event_id",
        "user_id",
        pl.col("occurred_at").str.to_datetime(time_zone="UTC", strict=False),
        (pl.col("consent_analytics").str.to_lowercase() == "true")
        .fill_null(False)
        .alias("consent_analytics"),
    )


def test_withdrawals_in_the_consent_table_reach_bronze(data_dir: Path, hmac_key: str) -> None:
    p = paths(data_dir)
    generate(out=p.landing, truth=p.truth, users=30, homes=0, days=3, start=START, seed=4)
    events = _landed_events(p.landing).filter(pl.col("user_id").is_not_null() & pl.col("consent_analytics"))
    busiest = events.group_by("user_id").len().sort("len", descending=True)["user_id"].to_list()
    a, b = busiest[0], busiest[1]
    cut = dt.datetime.combine(START + dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC)
    (p.landing / "consent").mkdir()
    (p.landing / "consent" / "changes.csv").write_text(
        "user_id,consent_analytics,consent_personalization,effective_at\n"
        f"{a},false,true,{cut.isoformat()}\n{b},true,false,{cut.isoformat()}\n"
    )
    Lander(p, hmac_key).land()
    bronze = table_frame(p.table("bronze", "clickstream_events"))
    mine = bronze.join(events.select("event_id", pl.col("user_id").alias("raw")), on="event_id")
    after = pl.col("occurred_at") >= cut
    a_rows, b_rows = mine.filter(pl.col("raw") == a), mine.filter(pl.col("raw") == b)
    assert a_rows.filter(after).height and a_rows.filter(~after).height
    assert a_rows.filter(after)["user_id"].null_count() == a_rows.filter(after).height
    assert a_rows.filter(after)["anonymous_id"].null_count() == a_rows.filter(after).height
    assert (a_rows.filter(~after)["user_id"] == pseudonymise_value(a, hmac_key)).all()
    assert not b_rows.filter(after)["consent_personalization"].any()
    assert b_rows.filter(~after)["consent_personalization"].all()
    assert (b_rows["user_id"] == pseudonymise_value(b, hmac_key)).all()
