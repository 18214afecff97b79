"""``generate``: the day-by-day driver that writes landing files and the ground truth.

One loop over days: simulate the homes' local day (sensor readings, consumables, re-order
decisions), then the shop's UTC day (sessions, the re-orders due that day, refunds, bots),
render both with their dirt, hand the rows to the delivery writers and write every delivery
day that can no longer change. Memory is a few days of rows whatever the size of the data set.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from lakehouse.generator import truth as tr
from lakehouse.generator.catalogue import build_catalogue
from lakehouse.generator.clickstream_lines import LineStats, Renderer
from lakehouse.generator.delivery import DeliveryWriter
from lakehouse.generator.homes import SENSOR_COLUMNS, Homes
from lakehouse.generator.households import HOUSEHOLDS, ROOMS
from lakehouse.generator.population import build_population
from lakehouse.generator.sessions import Reorders, ShopState, simulate_day
from lakehouse.generator.timekeeping import US_PER_DAY, ZONES, day_start_us


@dataclass
class GenerateSummary:
    """What ``generate`` wrote (printed by ``beacon generate``)."""

    landing: Path
    truth: Path
    users: int
    homes: int
    days: int
    start: dt.date
    seed: int
    clickstream_files: int = 0
    sensor_files: int = 0
    events: int = 0
    event_lines: int = 0
    readings: int = 0
    reading_lines: int = 0
    seconds: float = 0.0
    manifest: dict = field(default_factory=dict, repr=False)

    @property
    def files(self) -> int:
        return self.clickstream_files + self.sensor_files

    def __str__(self) -> str:
        end = self.start + dt.timedelta(days=self.days - 1)
        return (
            f"Generated {self.days} days ({self.start} to {end}), seed {self.seed}, in {self.seconds:.1f} s\n"
            f"  clickstream: {self.events:,} events from {self.users:,} people in {self.event_lines:,} lines, "
            f"{self.clickstream_files} files under {self.landing / 'clickstream'}\n"
            f"  sensors:     {self.readings:,} readings from {self.homes} homes in {self.reading_lines:,} lines, "
            f"{self.sensor_files} files under {self.landing / 'sensors'}\n"
            f"  truth:       {self.truth} (manifest.json has the planted counts; never read by the pipeline)"
        )


def _clear_previous(out: Path, truth: Path) -> None:
    """Remove files a previous ``generate`` wrote, so a re-run replaces its data set instead of adding to it."""
    for pattern in ("clickstream/*/events-*.jsonl.gz", "sensors/*/readings-*.csv.gz"):
        for path in out.glob(pattern):
            path.unlink()
    for name in tr.TRUTH_FILES:
        (truth / name).unlink(missing_ok=True)


def generate(
    out: Path, truth: Path, users: int, homes: int, days: int, start: dt.date, seed: int
) -> GenerateSummary:
    """Write a deterministic, realistic and dirty data set of landing files plus its ground truth.

    ``out`` receives ``clickstream/<day>/events-<day>-<NNN>.jsonl.gz`` and
    ``sensors/<day>/readings-<day>-<NNN>.csv.gz`` (folder = delivery day); ``truth`` receives
    Parquet tables and ``manifest.json``. The same arguments always give byte-identical files.
    """
    if users <= 0 or days <= 0 or homes < 0:
        raise ValueError(f"need users > 0, days > 0 and homes >= 0, got {users=}, {days=}, {homes=}")
    began = time.perf_counter()
    out, truth = Path(out), Path(truth)
    out.mkdir(parents=True, exist_ok=True)
    truth.mkdir(parents=True, exist_ok=True)
    _clear_previous(out, truth)

    rng = np.random.default_rng([seed & 0xFFFFFFFF, 0])
    cat = build_catalogue(rng)
    pop = build_population(rng, users, days, homes)
    home_sim = Homes(rng, homes, start, days, pop, cat, seed) if homes > 0 else None
    window_end = day_start_us(start) + days * US_PER_DAY
    renderer = Renderer(pop, cat)
    shop = ShopState()
    clicks = DeliveryWriter(out, "clickstream", "events", ".jsonl.gz")
    sensors = DeliveryWriter(out, "sensors", "readings", ".csv.gz", csv_columns=SENSOR_COLUMNS)
    occupancy = tr.OccupancyWriter(truth / "occupancy.parquet")
    line_stats = LineStats()
    sensor_stats: dict[str, int] = {}
    checkouts = np.zeros(2, dtype=np.int64)
    purchases = np.zeros(2, dtype=np.int64)
    shop_reorders: list[tuple[int, int, int, int, int, int, int]] = []
    offline: list[dict] = []

    def run_homes(day: int) -> None:
        assert home_sim is not None
        result = home_sim.simulate(day, start + dt.timedelta(days=day))
        sensors.add(result.readings)
        occupancy.write(result.occupancy)
        offline.extend(r for r in result.offline_restocks if 0 <= int(r["day"]) < days)
        for k, v in result.dirt.items():
            sensor_stats[k] = sensor_stats.get(k, 0) + v

    try:
        if home_sim is not None:
            run_homes(-1)  # the local day before the window reaches into its first UTC hours
        for day in range(days):
            date = start + dt.timedelta(days=day)
            epoch_day = (date - dt.date(1970, 1, 1)).days
            if home_sim is not None:
                run_homes(day)
                sensors.flush(epoch_day - 1)
            reorders = home_sim.orders_for(day, pop) if home_sim is not None else Reorders.empty()
            events, stats = simulate_day(day, date, pop, cat, shop, reorders, seed)
            checkouts += stats.checkouts
            purchases += stats.purchases
            shop_reorders.extend(stats.reorder_orders)
            for lines in renderer.render(events, day, date, window_end, seed, line_stats):
                clicks.add(lines)
                clicks.flush(epoch_day)
        if home_sim is not None:
            run_homes(days)
        clicks.close()
        sensors.close()
    finally:
        occupancy.close()

    home_ids = home_sim.home_ids if home_sim is not None else []
    assert shop.first_session_day is not None and shop.last_session_day is not None
    assert shop.sessions_per_user is not None
    tr.write_parquet(
        tr.users_frame(
            pop, start, days, shop.first_session_day, shop.last_session_day, shop.sessions_per_user, home_ids
        ),
        truth / "users.parquet",
    )
    tr.write_parquet(tr.bots_frame(pop), truth / "bots.parquet")
    experiment = tr.experiment_frame(pop, checkouts, purchases)
    tr.write_parquet(experiment, truth / "experiment.parquet")
    tr.write_parquet(
        tr.reorders_frame(shop_reorders, offline, home_ids, pop, cat, start), truth / "reorders.parquet"
    )
    tr.write_parquet(cat.frame(), truth / "products.parquet")
    homes_info = _write_home_truth(home_sim, truth, start, days)
    params = {
        "users": users,
        "homes": homes,
        "days": days,
        "start": start.isoformat(),
        "seed": seed,
        "end_exclusive": (start + dt.timedelta(days=days)).isoformat(),
    }
    data = tr.manifest(params, line_stats, sensor_stats, pop, experiment, homes_info)
    data["files"] = {"clickstream": len(clicks.files), "sensors": len(sensors.files)}
    data["occupancy_rows"] = occupancy.rows
    tr.write_manifest(data, truth / "manifest.json")

    return GenerateSummary(
        landing=out,
        truth=truth,
        users=users,
        homes=homes,
        days=days,
        start=start,
        seed=seed,
        clickstream_files=len(clicks.files),
        sensor_files=len(sensors.files),
        events=line_stats.events,
        event_lines=clicks.lines,
        readings=sensor_stats.get("readings", 0),
        reading_lines=sensors.lines,
        seconds=time.perf_counter() - began,
        manifest=data,
    )


def _write_home_truth(home_sim: Homes | None, truth: Path, start: dt.date, days: int) -> dict:
    """Homes, devices and planted appliance anomalies."""
    if home_sim is None:
        empty_homes = pl.DataFrame(schema={"home_id": pl.String, "user_id": pl.String})
        tr.write_parquet(empty_homes, truth / "homes.parquet")
        tr.write_parquet(
            pl.DataFrame(schema={"home_id": pl.String, "device_id": pl.String}), truth / "devices.parquet"
        )
        tr.write_parquet(
            pl.DataFrame(schema={"home_id": pl.String, "device_id": pl.String}),
            truth / "appliance_anomalies.parquet",
        )
        return {"homes": 0, "linked": 0, "anomalies": 0}
    h = home_sim
    hh = h.hh
    homes = pl.DataFrame(
        {
            "home_id": h.home_ids,
            "user_id": [None if s < 0 else f"u{s:06d}" for s in h.shopper],
            "country": [ZONES[z].country for z in h.zone],
            "timezone": [ZONES[z].name for z in h.zone],
            "household": [HOUSEHOLDS[k] for k in hh.kind],
            "occupants": hh.occupants,
            "has_office": hh.has_office,
            "vacation_start": [
                None if v >= days else start + dt.timedelta(days=int(v)) for v in hh.vacation_start
            ],
            "vacation_end": [
                None if v >= days + 20 else start + dt.timedelta(days=int(v)) for v in hh.vacation_end
            ],
        },
        schema_overrides={"user_id": pl.String, "vacation_start": pl.Date, "vacation_end": pl.Date},
    )
    tr.write_parquet(homes, truth / "homes.parquet")
    devices = pl.DataFrame(
        {
            "home_id": [h.home_ids[i] for i in h.devices.home],
            "device_id": h.devices.device_id,
            "device_kind": h.devices.kind,
            "room": [ROOMS[r] for r in h.devices.room],
        }
    )
    tr.write_parquet(devices, truth / "devices.parquet")
    planted = sorted(h.degrade_mode)
    anomalies = pl.DataFrame(
        {
            "home_id": [h.home_ids[h.devices.home[i]] for i in planted],
            "device_id": [h.devices.device_id[i] for i in planted],
            "device_kind": [h.devices.kind[i] for i in planted],
            "anomaly": [h.degrade_mode[i] for i in planted],
            "start_date": [start + dt.timedelta(days=int(h.degrade_start[i])) for i in planted],
            "daily_rate": [float(h.degrade_rate[i]) for i in planted],
        },
        schema_overrides={
            "home_id": pl.String,
            "device_id": pl.String,
            "device_kind": pl.String,
            "anomaly": pl.String,
            "start_date": pl.Date,
            "daily_rate": pl.Float64,
        },
    )
    tr.write_parquet(anomalies, truth / "appliance_anomalies.parquet")
    return {
        "homes": h.n,
        "linked": int((h.shopper >= 0).sum()),
        "anomalies": len(planted),
        "devices": len(h.devices.device_id),
    }
