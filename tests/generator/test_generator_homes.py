"""Smart homes: sensors respond to occupancy, appliances degrade, consumables are re-ordered in the shop."""

from __future__ import annotations

import datetime as dt

import polars as pl
from generator_helpers import DAYS, HOMES, START, Generated


def test_sensor_lines_are_valid_except_the_planted_dirt(generated: Generated) -> None:
    s = generated.manifest["sensors"]
    r = generated.readings
    assert r.height == s["lines"] == generated.summary.reading_lines
    invalid = r.filter(pl.col("_reasons").list.len() > 0)
    assert invalid.height == s["malformed_lines"] == s["bad_unit"] + s["non_numeric"]
    assert 0.002 < invalid.height / r.height < 0.008
    codes = set(invalid["_reasons"].list.first().str.extract(r"^([a-z_]+)\[").unique())
    assert codes <= {"unit_mismatch", "not_allowed", "wrong_type", "out_of_range"}
    assert {"wrong_type", "unit_mismatch", "not_allowed"} <= codes
    valid = r.filter(pl.col("_reasons").list.len() == 0)
    assert valid.height - valid["reading_id"].n_unique() == s["duplicate_lines"] > 0
    assert (
        generated.readings.filter(pl.col("_folder") > pl.col("occurred_at").dt.date().cast(pl.String)).height
        == s["late_lines"]
        > 0
    )


def test_readings_every_5_to_15_minutes_with_home_offsets(generated: Generated) -> None:
    r = generated.valid_readings
    assert r["home_id"].n_unique() == HOMES
    periodic = r.filter(pl.col("sensor_type").is_in(["temperature", "co2", "light", "humidity"]))
    gaps = periodic.sort("device_id", "sensor_type", "occurred_at").select(
        pl.col("occurred_at").diff().over("device_id", "sensor_type").dt.total_minutes().alias("gap")
    )["gap"]
    assert 5 <= gaps.drop_nulls().median() <= 15
    per_home_day = r.height / HOMES / DAYS
    assert 300 < per_home_day < 1500  # a few million readings at most for 50 homes x 60 days
    offsets = r.group_by("home_id").agg(pl.col("tz_offset_minutes").unique())
    assert offsets["tz_offset_minutes"].list.len().max() == 1  # no DST switch in this window
    homes = generated.truth_table("homes")
    joined = offsets.explode("tz_offset_minutes").join(homes, on="home_id")
    assert joined.filter(pl.col("country") == "DE")["tz_offset_minutes"].to_list() in (
        [],
        [60] * joined.filter(pl.col("country") == "DE").height,
    )
    assert set(r["sensor_type"].unique()) == {
        "temperature",
        "humidity",
        "co2",
        "light",
        "motion",
        "door",
        "power",
    }
    assert not r["device_id"].str.contains(r"h\d{4}").any()  # device ids never embed the home id


def test_motion_follows_true_occupancy(generated: Generated) -> None:
    occ = generated.truth_table("occupancy")
    assert occ.height > 0 and occ["occupied"].any() and (~occ["occupied"]).any()
    motion = generated.valid_readings.filter((pl.col("sensor_type") == "motion") & (pl.col("value") == 1.0))
    fired = motion.select(
        "home_id", "room", pl.col("occurred_at").dt.truncate("1h").alias("hour_start")
    ).unique()
    joined = occ.join(
        fired.with_columns(fired=pl.lit(True)), on=["home_id", "room", "hour_start"], how="left"
    )
    joined = joined.with_columns(pl.col("fired").fill_null(False))
    p_occupied = joined.filter(pl.col("occupied"))["fired"].mean()
    p_empty = joined.filter(~pl.col("occupied"))["fired"].mean()
    assert p_occupied > 0.5
    assert p_empty < 0.02


def test_co2_and_light_respond_to_people(generated: Generated) -> None:
    occ = generated.truth_table("occupancy")
    r = generated.valid_readings.with_columns(hour_start=pl.col("occurred_at").dt.truncate("1h"))
    co2 = r.filter((pl.col("sensor_type") == "co2") & (pl.col("room") == "bedroom")).join(
        occ, on=["home_id", "room", "hour_start"]
    )
    means = dict(co2.group_by("occupied").agg(pl.col("value").mean()).iter_rows())
    assert means[True] > means[False] + 150
    light = r.filter((pl.col("sensor_type") == "light") & (pl.col("room") == "living_room")).join(
        occ, on=["home_id", "room", "hour_start"]
    )
    local_hour = (light["occurred_at"] + pl.duration(minutes=light["tz_offset_minutes"])).dt.hour()
    evening = light.filter((local_hour >= 19) & (local_hour <= 22))
    lit = dict(evening.group_by("occupied").agg(pl.col("value").mean()).iter_rows())
    assert lit[True] > lit[False] + 100  # lamps on in the evening when someone is there
    temps = r.filter((pl.col("sensor_type") == "temperature") & (pl.col("room") == "living_room"))
    assert temps["value"].is_between(5, 30).all()


def test_degrading_appliances_draw_more_power_or_run_longer(generated: Generated) -> None:
    anomalies = generated.truth_table("appliance_anomalies")
    assert anomalies.height >= 1
    power = generated.valid_readings.filter(pl.col("sensor_type") == "power")
    for row in anomalies.to_dicts():
        device = power.filter(pl.col("device_id") == row["device_id"])
        assert device.height > 0, row
        start = dt.datetime.combine(row["start_date"], dt.time(), dt.UTC)
        end = dt.datetime.combine(START + dt.timedelta(days=DAYS), dt.time(), dt.UTC)
        late_start = start + (end - start) / 2
        before = device.filter(pl.col("occurred_at") < start)
        after = device.filter(pl.col("occurred_at") >= late_start)
        if row["anomaly"] == "rising_power":
            on_before = before.filter(pl.col("value") > 20)["value"].mean()
            on_after = after.filter(pl.col("value") > 20)["value"].mean()
            assert on_after > 1.04 * on_before, row
        else:
            days_before = before["occurred_at"].dt.date().n_unique()
            days_after = after["occurred_at"].dt.date().n_unique()
            per_day_before = before.filter(pl.col("value") > 20).height / max(1, days_before)
            cycles_before = before.filter(pl.col("value") < 20).height / max(1, days_before)
            per_day_after = after.filter(pl.col("value") > 20).height / max(1, days_after)
            cycles_after = after.filter(pl.col("value") < 20).height / max(1, days_after)
            # readings while running, per cycle
            assert per_day_after / max(cycles_after, 1e-9) > per_day_before / max(cycles_before, 1e-9), row


def test_linked_households_reorder_consumables_in_the_shop(generated: Generated) -> None:
    homes = generated.truth_table("homes")
    linked = homes.filter(pl.col("user_id").is_not_null())
    assert 0.5 <= linked.height / homes.height <= 0.9
    # sensor rows carry the shopper's user id, unlinked homes none
    r = generated.valid_readings
    carried = r.group_by("home_id").agg(pl.col("user_id").drop_nulls().unique())
    j = carried.join(homes.select("home_id", pl.col("user_id").alias("shopper")), on="home_id")
    for home_id, ids, shopper in j.iter_rows():
        assert list(ids) == ([] if shopper is None else [shopper]), home_id
    reorders = generated.truth_table("reorders")
    shop = reorders.filter(pl.col("channel") == "shop")
    assert shop.height > 0
    assert set(shop["category"]) <= {"coffee_pods", "detergent", "air_filters", "batteries"}
    assert shop.join(linked, on=["home_id", "user_id"], how="anti").height == 0
    buys = generated.unique_events.filter(pl.col("event_type") == "purchase")
    matched = shop.join(buys, on=["order_id", "user_id", "product_id", "category"], how="inner")
    assert matched.height >= 0.95 * shop.height
    offline = reorders.filter(pl.col("channel") == "offline")
    assert offline["home_id"].is_in(linked["home_id"].implode()).not_().all()
    # households keep re-ordering: coffee drinkers need pods more than once in four weeks
    coffee = reorders.filter(pl.col("category") == "coffee_pods").group_by("home_id").len()
    assert coffee["len"].max() >= 2


def test_occupancy_truth_has_routines(generated: Generated) -> None:
    occ = generated.truth_table("occupancy")
    homes = generated.truth_table("homes")
    o = occ.join(homes.select("home_id", "timezone", "household"), on="home_id")
    offset = (
        pl.when(pl.col("timezone").str.starts_with("America/New_York"))
        .then(-5)
        .when(pl.col("timezone").str.starts_with("America/Los_Angeles"))
        .then(-8)
        .when(pl.col("timezone").is_in(["Europe/London", "Europe/Dublin", "Europe/Lisbon"]))
        .then(0)
        .otherwise(1)
    )
    o = o.with_columns(local_hour=(pl.col("hour_start").dt.hour().cast(pl.Int32) + offset) % 24)
    bedroom_night = o.filter((pl.col("room") == "bedroom") & pl.col("local_hour").is_in([2, 3, 4]))[
        "occupied"
    ].mean()
    bedroom_noon = o.filter((pl.col("room") == "bedroom") & (pl.col("local_hour") == 15))["occupied"].mean()
    assert bedroom_night > 0.6 > bedroom_noon
    kitchen_dinner = o.filter((pl.col("room") == "kitchen") & (pl.col("local_hour") == 19))["occupied"].mean()
    kitchen_night = o.filter((pl.col("room") == "kitchen") & (pl.col("local_hour") == 3))["occupied"].mean()
    assert kitchen_dinner > 0.3 > kitchen_night
