"""The smart-home marts over the planted fixture: one shared dbt build, assertions on mart values.

Expected values are recomputed here from the fixture's planted constants (cycles, purchases,
occupancy) with polars, independently of the SQL, so a wrong rule shows up as a mismatch.
"""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest
import smart_home_fixture as fx
from smart_home_dbt import DBT_PROJECT, SMART_HOME_SELECTOR, SmartHomeBuild, dbt_args

from lakehouse.pseudonymise import pseudonymise_columns

pytestmark = pytest.mark.slow  # builds the dbt project

UNIT_TESTS = {
    "binary_state_is_split_at_hour_boundaries",
    "power_cycles_are_gaps_and_islands",
    "cycles_sum_energy_and_duration",
    "occupancy_rule_motion_co2_light",
    "schedule_periods_wrap_the_week_and_preheat",
    "degradation_flags_energy_length_and_power",
    "reorder_estimate_usage_then_interval",
    "energy_meter_resets_and_no_double_counting",
}
MARTS = {
    "fct_sensor_hourly",
    "fct_room_occupancy_hourly",
    "mart_home_occupancy_profile",
    "mart_home_schedule",
    "fct_appliance_cycles",
    "fct_appliance_daily",
    "fct_home_energy_daily",
    "mart_appliance_anomalies",
    "mart_consumable_reorders",
}


def test_dbt_args_are_isolated_and_select_the_smart_home_graph(tmp_path) -> None:
    args = dbt_args("build", tmp_path / "t", variables={"reference_date": "2026-01-19"})
    assert args[0] == "build"
    assert args[args.index("--project-dir") + 1] == str(DBT_PROJECT)
    assert args[args.index("--profiles-dir") + 1] == str(DBT_PROJECT)
    assert args[args.index("--target-path") + 1] == str(tmp_path / "t")
    assert args[args.index("--select") + 1] == SMART_HOME_SELECTOR
    assert args[args.index("--vars") + 1] == '{"reference_date": "2026-01-19"}'
    assert "--vars" not in dbt_args("run", tmp_path, select=())
    assert "--select" not in dbt_args("run", tmp_path, select=())


def test_build_runs_every_model_unit_test_and_data_test(smart_home_build: SmartHomeBuild) -> None:
    run = smart_home_build.run
    assert run.success, {k: v for k, v in run.statuses.items() if v not in ("success", "pass")}
    models = {k.split(".")[-1] for k in run.of_type("model.")}
    assert models >= MARTS
    unit = {k.split(".")[-1] for k, v in run.of_type("unit_test.").items() if v == "pass"}
    assert unit >= UNIT_TESTS
    data_tests = run.of_type("test.")
    assert len(data_tests) >= 100
    assert set(data_tests.values()) == {"pass"}


def test_hourly_aggregates(smart_home_build: SmartHomeBuild) -> None:
    q = smart_home_build.query
    thermo = q("select * from marts.fct_sensor_hourly where device_id = 'thermostat-aa000a'")
    assert thermo.height == fx.DAYS * 24
    assert thermo["reading_count"].unique().to_list() == [6]
    assert thermo["value_min"].unique().to_list() == [20.0]
    assert thermo["value_max"].unique().to_list() == [20.5]
    assert math.isclose(thermo["value_mean"].mean(), 20.25)
    assert thermo["share_on"].null_count() == thermo.height

    # door opens 08:00 and closes 08:02 UTC: 120 s on; the closed state carries 2 minutes into 09:00
    door = q(
        "select * from marts.fct_sensor_hourly where device_id = 'door_sensor-aa0009' "
        "and hour_start::date = '2026-01-07' order by hour_start"
    )
    assert door["hour_start"].dt.hour().to_list() == [8, 9]
    assert door["on_events"].to_list() == [1, 0]
    assert door["on_seconds"].to_list() == [120.0, 0.0]
    assert door["observed_seconds"].to_list() == [3600.0, 120.0]
    assert door["reading_count"].to_list() == [2, 0]
    assert math.isclose(door["share_on"][0], 120 / 3600)

    # living-room motion fires twice (on at :05 and :35, off 5 minutes later) per occupied hour
    motion = q(
        "select on_events, on_transitions, on_seconds from marts.fct_sensor_hourly "
        "where device_id = 'motion_sensor-aa0001' and reading_count > 0"
    )
    truth = fx.true_occupancy().filter((pl.col("home") == fx.HOME_A) & (pl.col("room") == "living_room"))
    assert motion.height == truth["occupied"].sum()
    assert motion["on_events"].unique().to_list() == [2]
    assert motion["on_transitions"].unique().to_list() == [2]
    assert motion["on_seconds"].unique().to_list() == [600.0]


def _truth_with_pseudonyms() -> pl.DataFrame:
    truth = fx.true_occupancy().with_columns(pl.col("home").alias("home_id"))
    truth = pseudonymise_columns(truth, ["home_id"], fx.FIXTURE_KEY)
    return truth.with_columns(pl.col("hour_start").dt.replace_time_zone(None))


def test_planted_occupancy_is_recovered(smart_home_build: SmartHomeBuild) -> None:
    inferred = smart_home_build.query("select * from marts.fct_room_occupancy_hourly")
    truth = _truth_with_pseudonyms()
    joined = truth.join(inferred, on=["home_id", "room", "hour_start"], how="full", coalesce=True)
    assert joined.height == truth.height == inferred.height  # same grid: every room, every hour
    wrong = joined.filter(pl.col("occupied") != pl.col("is_occupied"))
    assert wrong.height == 0, wrong.select("home", "room", "hour_start", "occupied", "is_occupied")
    # the bedroom at night (no motion between going to bed and getting up) is carried by CO2 alone
    night = joined.filter((pl.col("room") == "bedroom") & pl.col("local_hour").is_between(1, 5))
    assert night["co2_signal"].all() and not night["motion_signal"].any()
    # the living room in the evening is also seen by its lamp; in daylight hours the light says nothing
    evening = joined.filter(
        (pl.col("room") == "living_room") & pl.col("occupied") & (pl.col("local_hour") >= 18)
    )
    assert evening["light_signal"].all()
    assert not joined.filter(pl.col("local_hour").is_between(8, 15))["light_signal"].any()
    assert joined.filter(pl.col("room") == "outdoor").height == 0


def _expected_profile() -> pl.DataFrame:
    truth = _truth_with_pseudonyms()
    local = pl.col("hour_start") + pl.duration(minutes=pl.col("offset"))
    homes = (
        truth.group_by("home_id", "hour_start", "offset")
        .agg(pl.col("occupied").any())
        .with_columns(
            ((local.dt.weekday().cast(pl.Int32) - 1) * 24 + local.dt.hour().cast(pl.Int32)).alias(
                "hour_of_week"
            ),
            local.dt.truncate("1w").alias("week"),
        )
    )
    return homes.group_by("home_id", "hour_of_week").agg(
        (pl.col("occupied").sum() / pl.col("week").n_unique()).alias("expected"),
        pl.col("week").n_unique().alias("weeks"),
    )


def test_profile_has_168_slots_with_planted_probabilities(smart_home_build: SmartHomeBuild) -> None:
    profile = smart_home_build.query("select * from marts.mart_home_occupancy_profile")
    assert profile.group_by("home_id").len()["len"].to_list() == [168, 168]
    assert sorted(profile["hour_of_week"].unique().to_list()) == list(range(168))
    joined = profile.join(_expected_profile(), on=["home_id", "hour_of_week"], how="left")
    assert joined["expected"].null_count() == 0
    assert (joined["occupancy_probability"] - joined["expected"]).abs().max() < 1e-9
    assert (joined["weeks_observed"] == joined["weeks"]).all()
    a = profile.filter(pl.col("home_id") == smart_home_build.fixture.home_ids[fx.HOME_A])
    by_label = dict(zip(a["slot_label"], a["occupancy_probability"], strict=True))
    assert by_label["Mon 18:00"] == 1.0
    assert by_label["Wed 18:00"] == 0.5  # the second Wednesday evening was empty
    assert by_label["Mon 12:00"] == 0.0
    assert by_label["Sat 12:00"] == 1.0


def test_schedule_preheats_and_switches_off_sensibly(smart_home_build: SmartHomeBuild) -> None:
    sched = smart_home_build.query("select * from marts.mart_home_schedule")
    a = sched.filter(pl.col("home_id") == smart_home_build.fixture.home_ids[fx.HOME_A])
    heating = a.filter(pl.col("system") == "heating")
    rows = {r["occupied_from_at"]: r for r in heating.iter_rows(named=True)}
    # weekday evening to next morning (living room, then bedroom, then breakfast)
    assert rows["Mon 18:00"]["switch_on_at"] == "Mon 17:00"
    assert rows["Mon 18:00"]["switch_off_at"] == "Tue 08:00"
    # the Sunday night period runs through midnight into Monday morning: one period, not two
    assert rows["Sun 23:00"]["switch_on_at"] == "Sun 22:00"
    assert rows["Sun 23:00"]["switch_off_at"] == "Mon 08:00"
    assert "Mon 00:00" not in rows
    assert (heating["preheat_hours"] == 1).all()
    likely = _expected_profile().filter(
        (pl.col("home_id") == smart_home_build.fixture.home_ids[fx.HOME_A]) & (pl.col("expected") >= 0.5)
    )
    assert heating["occupied_hours"].sum() == likely.height  # every likely-occupied hour is heated, once
    lighting = a.filter(pl.col("system") == "lighting")
    assert set(lighting["occupied_from_at"]) >= {"Mon 18:00", "Sat 17:00"}
    on_hours = lighting.select(
        (
            pl.int_ranges(
                pl.col("occupied_from_hour_of_week"),
                pl.col("occupied_from_hour_of_week") + pl.col("occupied_hours"),
            )
            % 24
        ).alias("h")
    ).explode("h")["h"]
    # lights only in dark hours (17-07) and never in the sleep window (23-06)
    assert on_hours.is_in([6, 17, 18, 19, 20, 21, 22]).all()
    b = sched.filter(pl.col("home_id") == smart_home_build.fixture.home_ids[fx.HOME_B])
    assert sorted(b.filter(pl.col("system") == "heating")["switch_on_at"]) == [
        "Fri 08:00",
        "Mon 08:00",
        "Thu 08:00",
        "Tue 08:00",
        "Wed 08:00",
    ]
    assert set(b.filter(pl.col("system") == "heating")["switch_off_at"].str.slice(4)) == {"17:00"}


def _planted_cycles() -> pl.DataFrame:
    coffee = fx.coffee_cycle_starts().select(
        pl.lit("coffee_machine-aa0006").alias("device_id"),
        "cycle_start",
        pl.lit(fx.COFFEE_WATTS * fx.COFFEE_READINGS_PER_CYCLE * fx.POWER_STEP_MINUTES / 60).alias(
            "energy_wh"
        ),
        pl.lit(float(fx.COFFEE_READINGS_PER_CYCLE * fx.POWER_STEP_MINUTES)).alias("minutes"),
    )
    wash = fx.wash_cycles().select(
        pl.lit("washing_machine-aa0007").alias("device_id"),
        "cycle_start",
        (pl.col("watts") * pl.col("readings") * fx.POWER_STEP_MINUTES / 60).alias("energy_wh"),
        (pl.col("readings") * fx.POWER_STEP_MINUTES).cast(pl.Float64).alias("minutes"),
    )
    local = pl.col("cycle_start").dt.replace_time_zone(None) + pl.duration(minutes=fx.OFFSETS[fx.HOME_A])
    return pl.concat([coffee, wash]).with_columns(
        pl.col("cycle_start").dt.replace_time_zone(None), local.dt.date().alias("local_date")
    )


def test_appliance_cycles_and_energy_match_the_planted_cycles(smart_home_build: SmartHomeBuild) -> None:
    q = smart_home_build.query
    cycles = q(
        "select device_id, cycle_start, energy_wh, duration_minutes, local_date from marts.fct_appliance_cycles"
    )
    expected = _planted_cycles()
    joined = expected.join(cycles, on=["device_id", "cycle_start"], how="full", coalesce=True)
    assert joined.height == expected.height == cycles.height == 35 + 7
    assert (joined["energy_wh"] - joined["energy_wh_right"]).abs().max() < 1e-9
    assert (joined["minutes"] == joined["duration_minutes"]).all()

    daily = q("select * from marts.fct_appliance_daily where local_date = '2026-01-08'")
    coffee = daily.filter(pl.col("device_id") == "coffee_machine-aa0006").row(0, named=True)
    n_coffee = expected.filter(
        (pl.col("device_id") == "coffee_machine-aa0006") & (pl.col("local_date") == dt.date(2026, 1, 8))
    ).height
    on_minutes = n_coffee * fx.COFFEE_READINGS_PER_CYCLE * fx.POWER_STEP_MINUTES
    assert coffee["cycles"] == n_coffee == 2
    assert math.isclose(coffee["duty_cycle"], on_minutes / 1440)
    standby_wh = fx.COFFEE_STANDBY_WATTS * (1440 - on_minutes) / 60
    coffee_wh = (
        n_coffee * fx.COFFEE_WATTS * fx.COFFEE_READINGS_PER_CYCLE * fx.POWER_STEP_MINUTES / 60 + standby_wh
    )
    assert math.isclose(coffee["energy_wh"], coffee_wh)
    washer = daily.filter(pl.col("device_id") == "washing_machine-aa0007").row(0, named=True)
    assert washer["cycles"] == 0 and washer["energy_wh"] == 0.0  # no wash on the 8th

    home = q("select * from marts.fct_home_energy_daily where local_date = '2026-01-08'").row(0, named=True)
    fridge_wh = 24 * fx.FRIDGE_WH_PER_HOUR
    assert math.isclose(home["from_energy_meters_wh"], fridge_wh)
    assert math.isclose(home["from_power_sensors_wh"], coffee_wh)
    assert math.isclose(home["energy_wh"], fridge_wh + coffee_wh)


def test_degrading_washing_machine_is_flagged(smart_home_build: SmartHomeBuild) -> None:
    flags = smart_home_build.query("select * from marts.mart_appliance_anomalies")
    by_device = {r["device_id"]: r for r in flags.iter_rows(named=True)}
    washer = by_device["washing_machine-aa0007"]
    assert (
        washer["is_degrading"] and washer["energy_per_cycle_degrading"] and washer["cycle_length_degrading"]
    )
    assert math.isclose(
        washer["energy_per_cycle_change"],
        (fx.WASH_DEGRADED[0] * fx.WASH_DEGRADED[1]) / (fx.WASH_BASE[0] * fx.WASH_BASE[1]) - 1,
    )
    assert washer["baseline_cycles"] == 4 and washer["recent_cycles"] == 3
    assert not by_device["coffee_machine-aa0006"]["is_degrading"]


def _expected_reorder(category: str, device_id: str, window_days: int = 14) -> dict[str, object]:
    """The documented rule, recomputed from the planted purchases and cycles."""
    buys = sorted((p.day, p.quantity) for p in fx.PURCHASES if p.user == fx.USER_A and p.category == category)
    days = _planted_cycles().filter(pl.col("device_id") == device_id)["local_date"].to_list()
    (first, q1), (last, q2) = buys[0], buys[-1]
    usage_per_unit = sum(first <= d < last for d in days) / q1
    days_per_unit = (last - first).days / q1
    since = sum(last <= d < fx.REFERENCE_DATE for d in days)
    rate = (
        sum(fx.REFERENCE_DATE - dt.timedelta(days=window_days) <= d < fx.REFERENCE_DATE for d in days)
        / window_days
    )
    remaining = usage_per_unit * q2 - since
    return {
        "interval_estimate_date": last + dt.timedelta(days=round(days_per_unit * q2)),
        "expected_reorder_date": fx.REFERENCE_DATE + dt.timedelta(days=math.floor(remaining / rate)),
        "usage_remaining": remaining,
    }


def test_reorder_dates_follow_purchases_and_device_usage(smart_home_build: SmartHomeBuild) -> None:
    reorders = smart_home_build.query("select * from marts.mart_consumable_reorders")
    assert set(reorders["home_id"]) == {smart_home_build.fixture.home_ids[fx.HOME_A]}  # B has no shopper
    assert set(reorders["user_id"]) == {smart_home_build.fixture.user_ids[fx.USER_A]}
    rows = {r["category"]: r for r in reorders.iter_rows(named=True)}
    assert set(rows) == {"coffee_pods", "detergent", "batteries"}  # electronics is not a consumable

    coffee, want = rows["coffee_pods"], _expected_reorder("coffee_pods", "coffee_machine-aa0006")
    assert coffee["estimate_method"] == "device_usage"
    assert coffee["expected_reorder_date"] == want["expected_reorder_date"] == dt.date(2026, 1, 21)
    assert coffee["interval_estimate_date"] == want["interval_estimate_date"]
    assert math.isclose(coffee["usage_remaining"], want["usage_remaining"])
    assert coffee["reorder_status"] == "due_soon"

    detergent, want = rows["detergent"], _expected_reorder("detergent", "washing_machine-aa0007")
    assert detergent["expected_reorder_date"] == want["expected_reorder_date"]
    assert detergent["expected_reorder_date"] < fx.REFERENCE_DATE
    assert detergent["reorder_status"] == "overdue"

    batteries = rows["batteries"]
    assert batteries["estimate_method"] == "insufficient_history"
    assert batteries["expected_reorder_date"] is None
    assert batteries["usage_since_last_purchase"] > 0  # door and motion activations since 01-06
