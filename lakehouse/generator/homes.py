"""Smart homes: sensors and appliances responding to occupancy, consumables and re-orders.

Per local day and for all homes at once: occupancy (see :mod:`households`), then physical
signals on the 5-minute grid (room temperature lags the heating set-point, CO2 builds up with
people in a room and is vented away, humidity spikes after showers, light follows daylight
and lamps), then appliance cycles (coffee, laundry, dishes, fridge compressor, TV). Appliance
cycles use up consumables; when a household's modelled stock runs low its shopper orders
more in the shop (the clickstream), or buys it offline when the home has no linked shopper.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from lakehouse.generator.catalogue import CATEGORY_NAMES, CONSUMABLES, PACK_UNITS, Catalogue
from lakehouse.generator.households import (
    BATHROOM,
    BEDROOM,
    BLOCK,
    HALLWAY,
    KITCHEN,
    LIVING,
    ROOMS,
    SLOT_MINUTES,
    SLOTS,
    DayOccupancy,
    Household,
    build_households,
    simulate_occupancy,
)
from lakehouse.generator.ids import day_rng, hex_strings, unique_hex
from lakehouse.generator.population import NEVER, Population
from lakehouse.generator.sessions import Reorders
from lakehouse.generator.timekeeping import (
    HOME_ZONES,
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_MINUTE,
    US_PER_SECOND,
    ZONE_WEIGHTS,
    day_start_us,
    zone_offsets,
)

SLOT_US = SLOT_MINUTES * US_PER_MINUTE
COFFEE, DETERGENT, FILTERS, BATTERIES = range(4)
CONSUMABLE_CATS = np.array([CATEGORY_NAMES.index(c) for c in CONSUMABLES])
# signals computed on the grid (index into the stacked signal array)
SIGNALS = (
    "temp_living",
    "temp_bath",
    "temp_bed",
    "hum_bath",
    "co2_living",
    "co2_bed",
    "lux_living",
    "lux_kitchen",
    "power_fridge",
    "power_heater",
)
SIG = {name: i for i, name in enumerate(SIGNALS)}


@dataclass(frozen=True)
class Channel:
    """A periodic reading: device kind, room, sensor type, unit, grid signal, period (slots), decimals."""

    kind: str
    room: int
    sensor_type: str
    unit: str
    signal: str
    period: int
    decimals: int


CHANNELS: tuple[Channel, ...] = (
    Channel("thermostat", LIVING, "temperature", "C", "temp_living", 3, 1),
    Channel("thermostat", BATHROOM, "temperature", "C", "temp_bath", 3, 1),
    Channel("thermostat", BATHROOM, "humidity", "%", "hum_bath", 3, 1),
    Channel("co2_sensor", LIVING, "co2", "ppm", "co2_living", 3, 0),
    Channel("co2_sensor", BEDROOM, "co2", "ppm", "co2_bed", 3, 0),
    Channel("co2_sensor", BEDROOM, "temperature", "C", "temp_bed", 3, 1),
    Channel("light_sensor", LIVING, "light", "lux", "lux_living", 3, 0),
    Channel("light_sensor", KITCHEN, "light", "lux", "lux_kitchen", 3, 0),
    Channel("fridge", KITCHEN, "power", "W", "power_fridge", 3, 1),
    Channel("heater", LIVING, "power", "W", "power_heater", 3, 1),
)
# cycle appliances: kind, room, consumable used per cycle (-1 none)
CYCLE_APPLIANCES = (
    ("coffee_machine", KITCHEN, COFFEE),
    ("washing_machine", BATHROOM, DETERGENT),
    ("dishwasher", KITCHEN, DETERGENT),
    ("tv", LIVING, -1),
)
DEGRADABLE = ("fridge", "washing_machine", "dishwasher", "coffee_machine")
BATTERY_KINDS = ("motion_sensor", "door_sensor")
SENSOR_COLUMNS = [
    "reading_id",
    "home_id",
    "device_id",
    "room",
    "sensor_type",
    "value",
    "unit",
    "occurred_at",
    "user_id",
]
DIRT = {"bad_unit": 0.002, "non_numeric": 0.002, "duplicate": 0.005}
OUTAGE_SHARE = 0.03  # home-days whose hub loses its connection for a few hours and sends the backlog later
ANOMALY_HOME_SHARE = 0.15  # homes with one planted degrading appliance
COFFEE_PER_PERSON = 2.2  # cups (pods) per person and day at home


@dataclass
class Appliance:
    """Appliance and sensor devices of all homes (parallel arrays)."""

    home: np.ndarray
    kind: list[str]
    room: np.ndarray
    device_id: list[str]


@dataclass
class HomeState:
    """Physical and household state carried from one local day to the next."""

    temps: np.ndarray  # [H, 3] living, bath, bed
    co2: np.ndarray  # [H, 2]
    hum: np.ndarray  # [H] bathroom
    stock: np.ndarray  # [H, 4] units of each consumable
    order_pending: np.ndarray  # [H, 4]
    deliveries: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = field(default_factory=dict)
    orders_due: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = field(default_factory=dict)
    covered_until: np.ndarray | None = None


@dataclass
class HomeDay:
    """What one simulated local day produced."""

    readings: pl.DataFrame  # rendered rows + delivery_day, sort_us
    occupancy: pl.DataFrame  # truth: home_id, room, hour_start, occupied
    offline_restocks: list[dict[str, object]]
    dirt: dict[str, int]


class Homes:
    """All smart homes of a data set, simulated one local day at a time."""

    def __init__(
        self,
        rng: np.random.Generator,
        n_homes: int,
        start: dt.date,
        days: int,
        pop: Population,
        cat: Catalogue,
        seed: int,
    ):
        self.n = n_homes
        self.days = days
        self.start_date = start
        window = (day_start_us(start), day_start_us(start) + days * US_PER_DAY)
        self.seed = seed
        self.window = window
        H = n_homes
        self.home_ids = [f"h{i:04d}" for i in range(H)]
        self.shopper = np.full(H, -1, dtype=np.int64)
        users = np.flatnonzero(pop.home_of_user >= 0)
        self.shopper[pop.home_of_user[users]] = users
        home_zone_p = ZONE_WEIGHTS[HOME_ZONES] / ZONE_WEIGHTS[HOME_ZONES].sum()
        self.zone = np.where(
            self.shopper >= 0,
            pop.zone[np.maximum(self.shopper, 0)],
            rng.choice(HOME_ZONES, size=H, p=home_zone_p),
        )
        self.hh: Household = build_households(rng, H, days)
        self.comfort = rng.uniform(20.0, 22.5, H)
        self.heater = rng.random(H) < 0.6
        self.has = {
            "coffee_machine": rng.random(H) < 0.85,
            "washing_machine": rng.random(H) < 0.9,
            "dishwasher": rng.random(H) < 0.6,
            "tv": rng.random(H) < 0.8,
        }
        self.insulation = rng.uniform(0.015, 0.04, H)  # heat loss per slot towards outdoors
        # devices
        kinds_per_home: list[tuple[int, str, int]] = []
        for h in range(H):
            for kind, room in (
                ("thermostat", LIVING),
                ("thermostat", BATHROOM),
                ("co2_sensor", LIVING),
                ("co2_sensor", BEDROOM),
                ("light_sensor", LIVING),
                ("light_sensor", KITCHEN),
                ("fridge", KITCHEN),
                ("door_sensor", HALLWAY),
            ):
                kinds_per_home.append((h, kind, room))
            if self.heater[h]:
                kinds_per_home.append((h, "heater", LIVING))
            for kind, room, _ in CYCLE_APPLIANCES:
                if self.has[kind][h]:
                    kinds_per_home.append((h, kind, room))
            for r in range(len(ROOMS)):
                if r < 5 or self.hh.has_office[h]:
                    kinds_per_home.append((h, "motion_sensor", r))
        hexes = unique_hex(rng, len(kinds_per_home), 3)
        self.devices = Appliance(
            home=np.array([k[0] for k in kinds_per_home]),
            kind=[k[1] for k in kinds_per_home],
            room=np.array([k[2] for k in kinds_per_home]),
            device_id=[f"{k[1]}-{x}" for k, x in zip(kinds_per_home, hexes, strict=True)],
        )
        self._index = {(int(h), k, int(r)): i for i, (h, k, r) in enumerate(kinds_per_home)}
        self.motion_dev = np.full((H, len(ROOMS)), -1, dtype=np.int64)
        for (h, k, r), i in self._index.items():
            if k == "motion_sensor":
                self.motion_dev[h, r] = i
        self.battery_devices = np.bincount(
            self.devices.home[np.isin(self.devices.kind, BATTERY_KINDS)], minlength=H
        )

        # planted anomalies: one degrading appliance in ~15% of homes
        self.degrade_start = np.full(len(kinds_per_home), NEVER, dtype=np.int64)
        self.degrade_rate = np.zeros(len(kinds_per_home))
        self.degrade_mode: dict[int, str] = {}
        candidates = [i for i, k in enumerate(self.devices.kind) if k in DEGRADABLE]
        by_home: dict[int, list[int]] = {}
        for i in candidates:
            by_home.setdefault(int(self.devices.home[i]), []).append(i)
        eligible = sorted(by_home)
        n_planted = min(len(eligible), max(1, round(ANOMALY_HOME_SHARE * H)))
        chosen = sorted(rng.choice(eligible, size=n_planted, replace=False).tolist()) if eligible else []
        for h in chosen:
            i = by_home[h][int(rng.integers(0, len(by_home[h])))]
            self.degrade_start[i] = int(rng.integers(max(1, int(days * 0.3)), max(2, int(days * 0.6))))
            self.degrade_rate[i] = float(rng.uniform(0.01, 0.025))
            kind = self.devices.kind[i]
            self.degrade_mode[i] = (
                "longer_cycles" if kind in ("washing_machine", "dishwasher") else "rising_power"
            )

        # consumables: stock, usage and each household's preferred product
        self.daily_use = np.stack(
            [
                np.where(self.has["coffee_machine"], COFFEE_PER_PERSON * self.hh.occupants, 0.0),
                np.where(self.has["washing_machine"], 0.3 * self.hh.occupants, 0.0)
                + np.where(self.has["dishwasher"], 0.6, 0.0),
                np.full(H, 0.03),
                self.battery_devices / 60.0,
            ],
            axis=1,
        )
        packs = np.array([PACK_UNITS[c] for c in CONSUMABLES], dtype=float)
        self.pack = packs
        self.threshold = np.maximum(1.0, 5.0 * self.daily_use)
        self.threshold[:, FILTERS] = 0.2
        stock = rng.uniform(0.1, 1.6, (H, 4)) * packs * np.array([2, 1, 1, 1])
        self.preferred = np.stack(
            [cat.sample_in_category(rng, np.full(H, c)) for c in CONSUMABLE_CATS], axis=1
        )
        self.state = HomeState(
            temps=np.tile([19.0, 19.5, 18.0], (H, 1)) + rng.normal(0, 0.5, (H, 3)),
            co2=np.full((H, 2), 500.0),
            hum=np.full(H, 48.0),
            stock=stock,
            order_pending=np.zeros((H, 4), dtype=bool),
        )
        self.state.covered_until = np.full(H, np.iinfo(np.int64).min)
        self.reorder_log: list[dict[str, object]] = []

    # ------------------------------------------------------------------ helpers
    def dev(self, h: np.ndarray, kind: str, room: int) -> np.ndarray:
        """Device indices of ``kind`` in ``room`` of homes ``h`` (-1 where missing)."""
        return np.array([self._index.get((int(x), kind, room), -1) for x in h], dtype=np.int64)

    def degrade_factor(self, day: int, devices: np.ndarray) -> np.ndarray:
        """1 before an anomaly starts, then rising by the planted rate per day."""
        safe = np.maximum(devices, 0)
        elapsed = np.maximum(0, day - self.degrade_start[safe])
        return np.where(devices >= 0, 1.0 + self.degrade_rate[safe] * elapsed, 1.0)

    def orders_for(self, day: int, pop: Population) -> Reorders:
        """Re-orders the shoppers place on UTC day ``day`` (consumed by the clickstream)."""
        due = self.state.orders_due.pop(day, [])
        if not due:
            return Reorders.empty()
        home = np.concatenate([d[0] for d in due])
        cons = np.concatenate([d[1] for d in due])
        qty = np.concatenate([d[2] for d in due])
        rng = day_rng(self.seed, day, 7)
        start = day_start_us(self.start_date + dt.timedelta(days=day))
        t = start + rng.integers(7 * US_PER_HOUR, 21 * US_PER_HOUR, size=len(home))
        return Reorders(
            user=self.shopper[home],
            product=self.preferred[home, cons],
            quantity=qty,
            t_us=t,
            home=home,
            category=CONSUMABLE_CATS[cons],
        )

    # ------------------------------------------------------------------ simulation
    def simulate(self, day: int, date: dt.date) -> HomeDay:
        """One local day of every home."""
        rng = day_rng(self.seed, day, 5)
        hh = self.hh
        occ = simulate_occupancy(rng, hh, day, date)
        offsets = zone_offsets(date)[self.zone]
        local_start = day_start_us(date) - offsets * US_PER_MINUTE  # [H] UTC instant of local midnight
        signals, heating_hours = self._signals(rng, day, date, occ)

        # consumables: deliveries arrive, then appliances use what is there
        for home, cons, units in self.state.deliveries.pop(day, []):
            np.add.at(self.state.stock, (home, cons), units)
            self.state.order_pending[home, cons] = False
        rows = [self._periodic(rng, day, signals, local_start)]
        rows.append(self._motion(rng, occ, local_start))
        rows.append(self._door(rng, occ, local_start))
        cycle_rows, used = self._cycles(rng, day, occ, local_start)
        rows.append(cycle_rows)
        used[:, FILTERS] = heating_hours / 300.0
        used[:, BATTERIES] = self.battery_devices / 60.0
        self.state.stock = np.maximum(0.0, self.state.stock - used)
        restocks = self._reorder(rng, day, date, local_start)
        frame = pl.concat(rows, how="vertical")
        covered = self.state.covered_until.copy()  # after a DST switch, local days overlap by an hour
        readings, dirt = self._render(rng, day, frame, date)
        return HomeDay(readings, self._occupancy_truth(occ, local_start, covered), restocks, dirt)

    def _signals(
        self, rng: np.random.Generator, day: int, date: dt.date, occ: DayOccupancy
    ) -> tuple[np.ndarray, np.ndarray]:
        H = self.n
        hour = np.arange(SLOTS) * SLOT_MINUTES / 60.0
        doy = date.timetuple().tm_yday
        season = 10.0 - 9.0 * np.cos(2 * np.pi * (doy - 20) / 365.0)
        outdoor = (season + rng.normal(0, 2.5, H))[:, None] + 3.5 * np.sin(2 * np.pi * (hour - 9) / 24.0)[
            None, :
        ]
        setpoint = np.where(occ.awake, self.comfort[:, None], np.where(occ.present, 18.0, 16.0))
        heat_needed = setpoint > outdoor + 4.0
        out = np.empty((len(SIGNALS), H, SLOTS))
        temps = []
        for j, (delta, room) in enumerate(((0.0, LIVING), (0.5, BATHROOM), (-1.0, BEDROOM))):
            target = np.where(heat_needed, setpoint + delta, outdoor + 4.0)
            y = _lag(target, 0.06, self.state.temps[:, j])
            y = y + 0.6 * occ.rooms[:, room] + rng.normal(0, 0.12, (H, SLOTS))
            self.state.temps[:, j] = y[:, -1]
            temps.append(y)
        out[SIG["temp_living"]], out[SIG["temp_bath"]], out[SIG["temp_bed"]] = temps
        # heater power: proportional to the gap it closes plus the loss to outdoors
        demand = np.clip(setpoint - outdoor - 4.0, 0.0, None) * heat_needed
        power = np.clip(
            demand * self.insulation[:, None] * 2400.0 + np.clip(setpoint - temps[0], 0, None) * 500.0,
            0.0,
            2200.0,
        )
        out[SIG["power_heater"]] = np.where(self.heater[:, None], power, 0.0)
        heating_hours = (power > 50.0).sum(axis=1) * SLOT_MINUTES / 60.0

        # bathroom humidity: showers in the morning routine, then it dries out
        shower = occ.rooms[:, BATHROOM] & (occ.phase == 0)
        hum_bath = _decay(shower * 9.0, 0.85, self.state.hum - 48.0) + 48.0
        self.state.hum = hum_bath[:, -1]
        out[SIG["hum_bath"]] = np.clip(hum_bath + rng.normal(0, 0.8, (H, SLOTS)), 20, 99)

        # CO2: people exhale, windows and ventilation pull it back towards 420 ppm
        for j, room, name in ((0, LIVING, "co2_living"), (1, BEDROOM, "co2_bed")):
            vent = 0.08 if room == LIVING else 0.05
            x = vent * 420.0 + 32.0 * occ.people[:, room]
            y = _ar1(x, 1.0 - vent, self.state.co2[:, j])
            self.state.co2[:, j] = y[:, -1]
            out[SIG[name]] = np.round(y + rng.normal(0, 12.0, (H, SLOTS)))

        # light: daylight through the windows plus lamps when someone is in a dark room
        day_length = 12.0 - 4.0 * np.cos(2 * np.pi * (doy + 10) / 365.0)
        sun = np.clip(np.sin(np.pi * (hour - (12.5 - day_length / 2)) / day_length), 0.0, None)
        cloud = rng.uniform(0.3, 1.0, (H, 1))
        for name, room, window, lamp in (
            ("lux_living", LIVING, 420.0, 260.0),
            ("lux_kitchen", KITCHEN, 300.0, 380.0),
        ):
            daylight = window * sun[None, :] * cloud
            lamps = occ.rooms[:, room] & (daylight < 80.0)
            out[SIG[name]] = np.round(
                np.clip(daylight + lamp * lamps + rng.normal(0, 4.0, (H, SLOTS)), 0, None)
            )

        # fridge compressor: on a share of the time, drawing more as it degrades
        fridge = self.dev(np.arange(H), "fridge", KITCHEN)
        factor = self.degrade_factor(day, fridge)[:, None]
        duty = np.clip(0.33 * factor, 0, 0.9)
        on = rng.random((H, SLOTS)) < duty
        out[SIG["power_fridge"]] = np.where(
            on, 92.0 * factor + rng.normal(0, 3.0, (H, SLOTS)), 1.8 + rng.normal(0, 0.2, (H, SLOTS))
        )
        return out, heating_hours

    def _periodic(
        self, rng: np.random.Generator, day: int, signals: np.ndarray, local_start: np.ndarray
    ) -> pl.DataFrame:
        H = self.n
        frames = []
        for ch in CHANNELS:
            homes = np.arange(H) if ch.kind != "heater" else np.flatnonzero(self.heater)
            if len(homes) == 0:
                continue
            phase = rng.integers(0, ch.period, size=len(homes))
            counts = (SLOTS - phase + ch.period - 1) // ch.period
            owner = np.repeat(np.arange(len(homes)), counts)
            pos = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
            slot = phase[owner] + pos * ch.period
            h = homes[owner]
            value = np.round(signals[SIG[ch.signal], h, slot], ch.decimals)
            t = local_start[h] + slot * SLOT_US + rng.integers(0, 20 * US_PER_SECOND, size=len(h))
            frames.append(
                _rows(t, self.dev(homes, ch.kind, ch.room)[owner], ch.sensor_type, ch.unit, value, h)
            )
        return pl.concat(frames, how="vertical")

    def _motion(self, rng: np.random.Generator, occ: DayOccupancy, local_start: np.ndarray) -> pl.DataFrame:
        """PIR sensors: fire (1) when someone moves in a room, report clear (0) when it empties."""
        H, R = self.n, len(ROOMS)
        blocks = occ.rooms.reshape(H, R, -1, BLOCK).any(axis=3)  # [H, R, BLOCKS]
        sleeping = (~occ.awake & occ.present).reshape(H, -1, BLOCK).all(axis=2)[:, None, :]
        fire_p = np.where(sleeping & (np.arange(R) == BEDROOM)[None, :, None], 0.12, 0.9)
        fire = blocks & (rng.random(blocks.shape) < fire_p)
        cleared = np.zeros_like(blocks)
        cleared[:, :, 1:] = blocks[:, :, :-1] & ~blocks[:, :, 1:]
        h, r, b = np.nonzero(fire)
        h0, r0, b0 = np.nonzero(cleared)
        devices = self.motion_dev[np.concatenate([h, h0]), np.concatenate([r, r0])]
        hs = np.concatenate([h, h0])
        t = np.concatenate(
            [
                local_start[h] + b * BLOCK * SLOT_US + rng.integers(0, BLOCK * SLOT_US, size=len(h)),
                local_start[h0] + b0 * BLOCK * SLOT_US + rng.integers(0, 2 * US_PER_MINUTE, size=len(h0)),
            ]
        )
        value = np.concatenate([np.ones(len(h)), np.zeros(len(h0))])
        keep = devices >= 0
        return _rows(t[keep], devices[keep], "motion", "bool", value[keep], hs[keep])

    def _door(self, rng: np.random.Generator, occ: DayOccupancy, local_start: np.ndarray) -> pl.DataFrame:
        """Front door: opens (1) and closes (0) when people leave or come home."""
        changed = np.zeros_like(occ.present)
        changed[:, 1:] = occ.present[:, 1:] != occ.present[:, :-1]
        extra = rng.random(changed.shape) < 0.004  # deliveries, bins, the dog
        h, s = np.nonzero(changed | (extra & occ.awake))
        opened = local_start[h] + s * SLOT_US + rng.integers(0, SLOT_US // 2, size=len(h))
        closed = opened + rng.integers(20 * US_PER_SECOND, 120 * US_PER_SECOND, size=len(h))
        dev = self.dev(np.arange(self.n), "door_sensor", HALLWAY)[h]
        return _rows(
            np.concatenate([opened, closed]),
            np.concatenate([dev, dev]),
            "door",
            "bool",
            np.concatenate([np.ones(len(h)), np.zeros(len(h))]),
            np.concatenate([h, h]),
        )

    def _cycles(
        self, rng: np.random.Generator, day: int, occ: DayOccupancy, local_start: np.ndarray
    ) -> tuple[pl.DataFrame, np.ndarray]:
        """Coffee, laundry, dishes and TV: on/off power readings (and 10-min readings while running)."""
        H = self.n
        used = np.zeros((H, 4))
        frames = []
        stock = self.state.stock
        all_homes = np.arange(H)
        # coffee: cups in the morning routine and after lunch, one pod each, only while pods last
        dev = self.dev(all_homes, "coffee_machine", KITCHEN)
        wanted = rng.poisson(COFFEE_PER_PERSON * self.hh.occupants) * (dev >= 0) * occ.present.any(axis=1)
        cups = np.minimum(wanted, np.floor(stock[:, COFFEE])).astype(np.int64)
        used[:, COFFEE] = cups
        owner = np.repeat(all_homes, cups)
        morning = rng.random(len(owner)) < 0.7
        slot = np.where(
            morning, occ.wake[owner] + rng.integers(2, 14, len(owner)), rng.integers(150, 190, len(owner))
        )
        slot = np.clip(slot, 0, SLOTS - 1)
        d = dev[owner]
        factor = self.degrade_factor(day, d)
        start = local_start[owner] + slot * SLOT_US + rng.integers(0, SLOT_US, len(owner))
        dur = (rng.uniform(80, 140, len(owner)) * US_PER_SECOND).astype(np.int64)
        frames.append(
            _rows(
                np.concatenate([start, start + dur]),
                np.concatenate([d, d]),
                "power",
                "W",
                np.round(
                    np.concatenate(
                        [1250.0 * factor + rng.normal(0, 15, len(d)), 1.2 + rng.normal(0, 0.1, len(d))]
                    ),
                    1,
                ),
                np.concatenate([owner, owner]),
            )
        )
        # washing machine and dishwasher: long cycles with a heating phase, one detergent dose each
        for kind, room, p_run, window, base_slots, profile in (
            (
                "washing_machine",
                BATHROOM,
                np.minimum(0.9, 0.3 * self.hh.occupants),
                (8.0, 19.0),
                18,
                (2000.0, 250.0, 520.0),
            ),
            ("dishwasher", KITCHEN, np.full(H, 0.6), (19.5, 22.0), 24, (1800.0, 150.0, 700.0)),
        ):
            dev = self.dev(all_homes, kind, room)
            runs = (dev >= 0) & (rng.random(H) < p_run) & (stock[:, DETERGENT] - used[:, DETERGENT] >= 1)
            h = np.flatnonzero(runs)
            start_slot = (rng.uniform(*window, len(h)) * 60 / SLOT_MINUTES).astype(np.int64)
            runs_ok = occ.present[h, np.clip(start_slot, 0, SLOTS - 1)]
            h, start_slot = h[runs_ok], start_slot[runs_ok]
            used[h, DETERGENT] += 1
            d = dev[h]
            factor = self.degrade_factor(day, d)
            longer = np.array([self.degrade_mode.get(int(x)) == "longer_cycles" for x in d], dtype=bool)
            n_slots = np.round(base_slots * np.where(longer, factor, 1.0)).astype(np.int64)
            power_factor = np.where(longer, 1.0 + (factor - 1.0) * 0.3, factor)
            readings = n_slots // 2 + 1
            o, k = _segments(readings)
            rel = k * 2
            frac = rel / np.maximum(1, n_slots[o])
            level = np.where(frac < 0.22, profile[0], np.where(frac < 0.85, profile[1], profile[2]))
            value = np.where(k == readings[o] - 1, 0.9, level * power_factor[o] + rng.normal(0, 12, len(o)))
            rel = np.where(k == readings[o] - 1, n_slots[o], rel)
            t = (
                local_start[h[o]]
                + (start_slot[o] + rel) * SLOT_US
                + rng.integers(0, 30 * US_PER_SECOND, len(o))
            )
            frames.append(_rows(t, d[o], "power", "W", np.round(value, 1), h[o]))
        # TV in the evening while the living room is in use
        dev = self.dev(all_homes, "tv", LIVING)
        evening = occ.rooms[:, LIVING, 234:]  # from 19:30
        watching = (dev >= 0) & evening.any(axis=1) & (rng.random(H) < 0.75)
        h = np.flatnonzero(watching)
        on_slot = 234 + np.argmax(evening[h], axis=1)
        off_slot = np.maximum(on_slot + 6, np.minimum(occ.sleep[h], SLOTS - 1))
        readings = (off_slot - on_slot) // 6 + 2
        o, k = _segments(readings)
        last = k == readings[o] - 1
        slot = np.where(last, off_slot[o], on_slot[o] + 6 * k)
        value = np.where(last, 0.5, 96.0 + rng.normal(0, 4, len(o)))
        t = local_start[h[o]] + slot * SLOT_US + rng.integers(0, 60 * US_PER_SECOND, len(o))
        frames.append(_rows(t, dev[h][o], "power", "W", np.round(value, 1), h[o]))
        return pl.concat(frames, how="vertical"), used

    def _reorder(
        self, rng: np.random.Generator, day: int, date: dt.date, local_start: np.ndarray
    ) -> list[dict[str, object]]:
        """Households whose stock runs low order more: in the shop if linked, else offline."""
        low = (self.state.stock <= self.threshold) & ~self.state.order_pending & (self.daily_use > 0)
        h, c = np.nonzero(low)
        if len(h) == 0:
            return []
        qty = rng.choice([1, 2, 3], size=len(h), p=[0.7, 0.22, 0.08])
        self.state.order_pending[h, c] = True
        linked = self.shopper[h] >= 0
        order_day = day + 1 + (rng.random(len(h)) < 0.35)
        deliver_day = np.where(linked, order_day + 2, day + 1)
        for dd in np.unique(deliver_day):
            m = deliver_day == dd
            self.state.deliveries.setdefault(int(dd), []).append((h[m], c[m], qty[m] * self.pack[c[m]]))
        for od in np.unique(order_day[linked]):
            m = linked & (order_day == od)
            self.state.orders_due.setdefault(int(od), []).append((h[m], c[m], qty[m]))
        out = []
        for i in np.flatnonzero(~linked):
            out.append(
                {
                    "home": int(h[i]),
                    "category": CONSUMABLES[int(c[i])],
                    "quantity": int(qty[i]),
                    "day": day + 1,
                    "stock_before": float(self.state.stock[h[i], c[i]]),
                }
            )
        for i in np.flatnonzero(linked):
            self.reorder_log.append(
                {
                    "home": int(h[i]),
                    "category": CONSUMABLES[int(c[i])],
                    "quantity": int(qty[i]),
                    "day": int(order_day[i]),
                    "stock_before": float(self.state.stock[h[i], c[i]]),
                }
            )
        return out

    def _render(
        self, rng: np.random.Generator, day: int, frame: pl.DataFrame, date: dt.date
    ) -> tuple[pl.DataFrame, dict[str, int]]:
        """Rows as the hub sends them, restricted to the data window, with a little dirt."""
        start, end = self.window
        t = frame["t_us"].to_numpy()
        h = frame["home"].to_numpy()
        keep = (t >= start) & (t < end) & (t >= self.state.covered_until[h])
        frame = frame.filter(pl.Series(keep))
        n = frame.height
        h = frame["home"].to_numpy()
        dev = frame["device"].to_numpy()
        offsets = zone_offsets(date)[self.zone]
        suffix = pl.Series([_offset(int(m)) for m in offsets], dtype=pl.String)
        # hub outages: readings buffered during the outage are delivered when it reconnects
        outage = rng.random(self.n) < OUTAGE_SHARE
        local_start = day_start_us(date) - offsets * US_PER_MINUTE
        cut_from = local_start + rng.integers(12, 23, size=self.n) * US_PER_HOUR
        cut_to = cut_from + rng.integers(2 * US_PER_HOUR, 10 * US_PER_HOUR, size=self.n)
        t = frame["t_us"].to_numpy()
        buffered = outage[h] & (t >= cut_from[h]) & (t < cut_to[h])
        sent = np.minimum(np.where(buffered, cut_to[h], t), end - 1)
        delivery = sent // US_PER_DAY
        late = delivery > t // US_PER_DAY
        rows = frame.with_columns(
            reading_id=pl.concat_str([pl.lit("r-"), hex_strings(rng, n, 8)]),
            home_id=pl.Series(self.home_ids).gather(h),
            device_id=pl.Series(self.devices.device_id).gather(dev),
            room=pl.Series(list(ROOMS)).gather(self.devices.room[dev]),
            user_id=pl.Series([None if s < 0 else f"u{s:06d}" for s in self.shopper], dtype=pl.String).gather(
                h
            ),
            occurred_at=pl.concat_str(
                [
                    (pl.col("t_us") + pl.Series(offsets[h]) * US_PER_MINUTE)
                    .cast(pl.Datetime("us"))
                    .dt.strftime("%Y-%m-%dT%H:%M:%S"),
                    suffix.gather(h),
                ]
            ),
            value=pl.when(pl.col("sensor_type").is_in(["motion", "door"]))
            .then(pl.col("value").cast(pl.Int64).cast(pl.String))
            .otherwise(pl.col("value").cast(pl.String)),
            delivery_day=pl.Series(delivery).cast(pl.Int32),
            sort_us=pl.col("t_us"),
        )
        # dirt: wrong units, values that are not numbers, re-sent readings
        bad_unit = rng.random(n) < DIRT["bad_unit"]
        non_numeric = ~bad_unit & (rng.random(n) < DIRT["non_numeric"])
        dup = ~bad_unit & ~non_numeric & (rng.random(n) < DIRT["duplicate"])
        wrong = {
            "temperature": "F",
            "humidity": "ppm",
            "co2": "%",
            "light": "W",
            "power": "kW",
            "motion": "lux",
            "door": "C",
        }
        junk = pl.Series(rng.choice(np.array(["err", "--", "NaN", "n/a", "unavailable"]), size=n))
        rows = rows.with_columns(
            unit=pl.when(pl.Series(bad_unit))
            .then(pl.col("sensor_type").replace_strict(wrong, default="?"))
            .otherwise(pl.col("unit")),
            value=pl.when(pl.Series(non_numeric)).then(junk).otherwise(pl.col("value")),
        )
        copies = rows.filter(pl.Series(dup))
        resend_next_day = rng.random(copies.height) < 0.3
        copies = copies.with_columns(
            delivery_day=pl.when(
                pl.Series(resend_next_day) & (pl.col("delivery_day") + 1 < end // US_PER_DAY)
            )
            .then(pl.col("delivery_day") + 1)
            .otherwise(pl.col("delivery_day")),
            sort_us=pl.col("sort_us") + 1,
        )
        out = pl.concat([rows, copies]).select([*SENSOR_COLUMNS, "delivery_day", "sort_us"])
        self.state.covered_until = np.maximum(
            self.state.covered_until, day_start_us(date) - offsets * US_PER_MINUTE + US_PER_DAY
        )
        late_lines = out.select((pl.col("delivery_day") > pl.col("sort_us") // US_PER_DAY).sum()).item()
        dirt = {
            "readings": n,
            "lines": out.height,
            "bad_unit": int(bad_unit.sum()),
            "non_numeric": int(non_numeric.sum()),
            "duplicate_lines": int(dup.sum()),
            "late_readings": int(late.sum()),
            "late": int(late_lines),
        }
        return out, dirt

    def _occupancy_truth(
        self, occ: DayOccupancy, local_start: np.ndarray, covered: np.ndarray
    ) -> pl.DataFrame:
        """True occupancy per home, room and UTC hour (occupied at any time in the hour)."""
        H, R = self.n, len(ROOMS)
        hourly = occ.rooms.reshape(H, R, 24, 12).any(axis=3)
        h, r, k = np.indices(hourly.shape).reshape(3, -1)
        hour_start = local_start[h] + k * US_PER_HOUR
        start, end = self.window
        exists = (r != len(ROOMS) - 1) | self.hh.has_office[h]
        keep = exists & (hour_start >= start) & (hour_start < end) & (hour_start >= covered[h])
        return pl.DataFrame(
            {
                "home_id": pl.Series(self.home_ids).gather(h[keep]),
                "room": pl.Series(list(ROOMS)).gather(r[keep]),
                "hour_start": pl.Series(hour_start[keep]).cast(pl.Datetime("us", "UTC")),
                "occupied": hourly.reshape(-1)[keep],
            }
        )


def _offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _segments(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    owner = np.repeat(np.arange(len(counts)), counts)
    pos = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, pos


def _rows(
    t: np.ndarray, device: np.ndarray, sensor_type: str, unit: str, value: np.ndarray, home: np.ndarray
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "t_us": pl.Series(t, dtype=pl.Int64),
            "device": pl.Series(device, dtype=pl.Int64),
            "value": pl.Series(value, dtype=pl.Float64),
            "home": pl.Series(home, dtype=pl.Int64),
        }
    ).select("t_us", "device", sensor_type=pl.lit(sensor_type), unit=pl.lit(unit), value="value", home="home")


def _ar1(x: np.ndarray, keep: float, start: np.ndarray) -> np.ndarray:
    """y[s] = keep * y[s-1] + x[s], row-wise, continuing from ``start`` (one step per 5-minute slot)."""
    out = np.empty_like(x, dtype=float)
    y = start.astype(float)
    for s in range(x.shape[1]):
        y = keep * y + x[:, s]
        out[:, s] = y
    return out


def _lag(target: np.ndarray, alpha: float, start: np.ndarray) -> np.ndarray:
    """First-order lag of each row towards ``target`` (a room warming up or cooling down)."""
    return _ar1(alpha * target, 1.0 - alpha, start)


def _decay(impulse: np.ndarray, keep: float, start: np.ndarray) -> np.ndarray:
    return _ar1(impulse.astype(float), keep, start)
