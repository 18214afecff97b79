"""Landing layout, contract validity, and the dirt: present, counted, in the stated proportions."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
from generator_helpers import DAYS, START, USERS, Generated

from lakehouse.contracts import CLICKSTREAM, SENSORS

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def test_landing_layout_is_one_folder_per_delivery_day(generated: Generated) -> None:
    last = START + dt.timedelta(days=DAYS - 1)
    for source, pattern in (
        ("clickstream", r"events-(\d{4}-\d{2}-\d{2})-\d{3}\.jsonl\.gz"),
        ("sensors", r"readings-(\d{4}-\d{2}-\d{2})-\d{3}\.csv\.gz"),
    ):
        files = sorted((generated.landing / source).glob("*/*"))
        assert files, source
        folders = {f.parent.name for f in files}
        assert all(DATE.match(d) and START.isoformat() <= d <= last.isoformat() for d in folders)
        assert len(folders) == DAYS
        for f in files:
            m = re.fullmatch(pattern, f.name)
            assert m and m.group(1) == f.parent.name, f
    assert generated.summary.clickstream_files == len(list((generated.landing / "clickstream").glob("*/*")))


def test_sensor_files_have_the_contract_header(generated: Generated) -> None:
    import gzip

    first = sorted((generated.landing / "sensors").glob("*/*.csv.gz"))[0]
    header = gzip.decompress(first.read_bytes()).decode().splitlines()[0]
    assert header.split(",") == SENSORS.names


def test_clickstream_lines_have_exactly_the_contract_keys(generated: Generated) -> None:
    sample = generated.raw_lines.head(200)["line"].to_list()
    import json

    keys = [list(json.loads(line)) for line in sample if line.endswith("}") and '"video_play"' not in line]
    assert keys and all(k == CLICKSTREAM.names for k in keys if "anonymous_id" in k)


def test_every_line_is_valid_except_the_planted_malformed_ones(generated: Generated) -> None:
    m = generated.manifest["clickstream"]
    invalid = generated.events.filter(pl.col("_reasons").list.len() > 0).height
    assert generated.raw_lines.height == m["lines"]
    assert generated.unparseable + invalid == m["malformed_lines"]
    assert generated.unparseable == m["malformed_by_kind"]["truncated_json"]
    reasons = generated.events.filter(pl.col("_reasons").list.len() > 0)["_reasons"].list.first()
    codes = reasons.str.extract(r"^([a-z_]+\[[a-z_]+\])").value_counts().sort("count")
    found = dict(codes.iter_rows())
    assert found == {
        "wrong_type[consent_analytics]": m["malformed_by_kind"]["wrong_type"],
        "not_allowed[event_type]": m["malformed_by_kind"]["unknown_event_type"],
        "missing_field[anonymous_id]": m["malformed_by_kind"]["missing_field"],
        "wrong_type[occurred_at]": m["malformed_by_kind"]["bad_timestamp"],
    }
    uuid4 = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    assert generated.valid_events["event_id"].str.contains(uuid4).all()
    # Valid events: one per planted event, each kept exactly once after de-duplication.
    assert generated.unique_events.height == m["valid_events"] == m["events"] - m["malformed_lines"]


def test_malformed_share_is_about_half_a_percent(generated: Generated) -> None:
    m = generated.manifest["clickstream"]
    share = m["malformed_lines"] / generated.raw_lines.height
    assert 0.003 < share < 0.008
    assert abs(share - m["malformed_share"]) < 1e-9
    assert all(v > 0 for v in m["malformed_by_kind"].values())


def test_duplicates_repeat_the_event_id_in_the_same_or_a_later_file(generated: Generated) -> None:
    m = generated.manifest["clickstream"]
    valid = generated.valid_events
    dup_ids = valid.group_by("event_id").agg(
        pl.len().alias("n"), pl.col("_folder").n_unique().alias("folders")
    )
    dups = dup_ids.filter(pl.col("n") > 1)
    assert int((dups["n"] - 1).sum()) == m["duplicate_lines"]
    assert 0.008 < m["duplicate_lines"] / m["events"] < 0.025
    assert dups.filter(pl.col("folders") > 1).height > 0  # some re-deliveries land in a later file
    assert dups.filter(pl.col("folders") == 1).height > 0  # most within seconds
    # a re-delivery is the same event: only received_at may differ
    pairs = valid.filter(pl.col("event_id").is_in(dups["event_id"].implode()))
    same = pairs.group_by("event_id").agg(pl.col("occurred_at").n_unique(), pl.col("event_type").n_unique())
    assert (same["occurred_at"] == 1).all() and (same["event_type"] == 1).all()


def test_late_events_arrive_up_to_three_days_later_in_later_folders(generated: Generated) -> None:
    m = generated.manifest["clickstream"]
    ev = generated.unique_events
    delay = ev["received_at"] - ev["occurred_at"]
    late = ev.filter(delay > pl.duration(hours=1))
    assert abs(late.height - m["late_events"]) < 0.05 * m["late_events"]  # clock skew blurs a few
    assert 0.01 < m["late_share"] < 0.05
    assert (
        late.filter(pl.col("received_at") - pl.col("occurred_at") > pl.duration(days=3, minutes=15)).height
        == 0
    )
    later_folder = ev.filter(pl.col("_folder") > pl.col("occurred_at").dt.date().cast(pl.String))
    assert later_folder.height > 0.5 * late.height
    # every line sits in the folder of its delivery (received_at, UTC) day
    assert (ev["received_at"].dt.date().cast(pl.String) == ev["_folder"]).all()


def test_clock_skew_and_mixed_timezone_offsets(generated: Generated) -> None:
    ev = generated.unique_events.filter(pl.col("received_at") - pl.col("occurred_at") < pl.duration(hours=1))
    ahead = ev.filter(pl.col("occurred_at") > pl.col("received_at") + pl.duration(seconds=40))
    assert ahead.height > 0  # device clocks running fast
    offsets = set(generated.unique_events["tz_offset_minutes"].unique().to_list())
    assert {0, 60, -300, 330} <= offsets
    by_country = (
        generated.unique_events.filter(pl.col("event_type") != "refund")
        .group_by("country")
        .agg(pl.col("tz_offset_minutes").unique())
    )
    de = by_country.filter(pl.col("country") == "DE")["tz_offset_minutes"].item().to_list()
    assert de == [60]
    # refunds come from the shop's server, in UTC and without a browser context
    refunds = generated.unique_events.filter(pl.col("event_type") == "refund")
    assert refunds.height > 0
    assert (refunds["tz_offset_minutes"] == 0).all() and refunds["user_agent"].is_null().all()


def test_events_without_consent_are_about_five_percent_of_people(generated: Generated) -> None:
    m = generated.manifest["clickstream"]
    users = generated.truth_table("users").filter(~pl.col("is_bot"))
    no_consent = users.filter(~pl.col("consent_analytics"))
    assert m["no_consent_users"] == no_consent.height
    assert 0.025 < no_consent.height / USERS < 0.08
    assert no_consent.filter(~pl.col("consent_personalization")).height > 0  # some refuse both
    ev = generated.unique_events
    valid_no_consent = ev.filter(~pl.col("consent_analytics")).height
    # the manifest counts planted events; a few of them had their line damaged
    assert 0 <= m["no_consent_events"] - valid_no_consent <= 0.02 * m["no_consent_events"] + 5
    assert 0.02 < valid_no_consent / ev.height < 0.12
    # the flag is the person's: all of a person's events agree with the truth
    flagged = (
        ev.filter(pl.col("user_id").is_not_null()).group_by("user_id").agg(pl.col("consent_analytics").all())
    )
    joined = flagged.join(users.select("user_id", "consent_analytics"), on="user_id", suffix="_truth")
    assert joined.height > 0 and (joined["consent_analytics"] == joined["consent_analytics_truth"]).all()


def test_bots_are_few_ids_with_rapid_bursts_and_bot_agents(generated: Generated) -> None:
    m = generated.manifest["clickstream"]
    bots = generated.truth_table("bots")
    assert bots.height == m["bot_ids"] >= 2
    ev = generated.unique_events
    bot_events = ev.filter(pl.col("anonymous_id").is_in(bots["anonymous_id"].implode()))
    assert abs(bot_events.height - m["bot_events"]) < 0.02 * m["bot_events"] + 5
    assert bot_events["user_id"].is_null().all()
    assert bot_events["user_agent"].str.contains(r"(?i)bot|python-requests|curl|scrapy|headless").all()
    gaps = bot_events.sort("anonymous_id", "occurred_at").select(
        (pl.col("occurred_at").diff().over("anonymous_id").dt.total_milliseconds() / 1000).alias("gap")
    )
    assert gaps["gap"].drop_nulls().median() < 1.0  # humans take tens of seconds per page
    repeated = bot_events.group_by("anonymous_id", "product_id", pl.col("occurred_at").dt.date()).len()
    assert repeated["len"].max() >= 3  # repeated rapid clicks on the same product
    human_agents = ev.filter(~pl.col("anonymous_id").is_in(bots["anonymous_id"].implode()))["user_agent"]
    assert not human_agents.drop_nulls().str.contains(r"(?i)bot|python-requests|curl|scrapy").any()
