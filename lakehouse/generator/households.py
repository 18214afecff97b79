"""Households: who is home when, and in which room, on a 5-minute grid.

Occupancy is the hidden state everything else in a smart home responds to (motion, lights,
CO2, heating, appliances), so it is simulated first and kept as the ground truth. Routines
depend on the household (commuters, home office, retired), the day (work day, weekend, public
holiday) and planned holidays away; rooms follow the time of day (bathroom and kitchen in the
morning, kitchen at dinner, living room in the evening, bedroom at night).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from lakehouse.generator.population import NEVER
from lakehouse.generator.timekeeping import is_rest_day

ROOMS: tuple[str, ...] = ("living_room", "kitchen", "bedroom", "bathroom", "hallway", "office")
LIVING, KITCHEN, BEDROOM, BATHROOM, HALLWAY, OFFICE = range(6)
HOUSEHOLDS: tuple[str, ...] = ("commuters", "home_office", "retired")
COMMUTERS, HOME_OFFICE, RETIRED = range(3)
SLOT_MINUTES = 5
SLOTS = 24 * 60 // SLOT_MINUTES
BLOCK = 3  # rooms are re-drawn every 15 minutes, not every 5 (people do not flicker)
BLOCKS = SLOTS // BLOCK

# time-of-day phase -> room weights (living, kitchen, bedroom, bathroom, hallway, office)
_ROOM_WEIGHTS = np.array(
    [
        [0.00, 0.45, 0.20, 0.35, 0.00, 0.00],  # morning routine
        [0.45, 0.20, 0.10, 0.05, 0.05, 0.00],  # day at home
        [0.35, 0.55, 0.00, 0.05, 0.05, 0.00],  # dinner
        [0.70, 0.10, 0.10, 0.10, 0.00, 0.00],  # evening
        [0.10, 0.05, 0.00, 0.05, 0.00, 0.80],  # working from home
    ]
)


@dataclass
class Household:
    """Static facts about the homes' people."""

    kind: np.ndarray
    occupants: np.ndarray
    has_office: np.ndarray
    vacation_start: np.ndarray
    vacation_end: np.ndarray


@dataclass
class DayOccupancy:
    """One local day of one set of homes on the 5-minute grid."""

    present: np.ndarray  # [H, SLOTS] someone is home
    awake: np.ndarray  # [H, SLOTS] home and awake
    rooms: np.ndarray  # [H, ROOMS, SLOTS] bool occupied
    people: np.ndarray  # [H, ROOMS, SLOTS] people in the room (0..2+)
    phase: np.ndarray  # [H, SLOTS] time-of-day phase (0 morning .. 4 work from home; -1 asleep/away)
    wake: np.ndarray  # [H] slot
    sleep: np.ndarray  # [H] slot


def build_households(rng: np.random.Generator, homes: int, days: int) -> Household:
    """Draw household types, sizes and a planned holiday away for some."""
    kind = rng.choice(3, size=homes, p=[0.55, 0.25, 0.20])
    occupants = np.where(
        kind == RETIRED,
        rng.choice([1, 2], size=homes, p=[0.4, 0.6]),
        rng.choice([1, 2, 3, 4], size=homes, p=[0.3, 0.35, 0.2, 0.15]),
    )
    has_office = (kind == HOME_OFFICE) | (rng.random(homes) < 0.15)
    away = rng.random(homes) < 0.3
    length = rng.integers(4, 11, size=homes)
    start = rng.integers(0, max(1, days - 4), size=homes)
    return Household(
        kind, occupants, has_office, np.where(away, start, NEVER), np.where(away, start + length, NEVER)
    )


def _slot(hours: np.ndarray) -> np.ndarray:
    return np.clip(np.round(hours * 60 / SLOT_MINUTES), 0, SLOTS).astype(np.int64)


def simulate_occupancy(rng: np.random.Generator, hh: Household, day: int, date: dt.date) -> DayOccupancy:
    """Presence, sleep and room occupancy of every home for local date ``date``."""
    H = len(hh.kind)
    rest = is_rest_day(date)
    slots = np.arange(SLOTS)[None, :]
    wake = _slot(
        rng.normal(8.4 if rest else 6.7, 0.7 if rest else 0.4, H) + np.where(hh.kind == RETIRED, 0.5, 0)
    )
    sleep = _slot(np.minimum(rng.normal(23.2 if rest else 22.9, 0.6, H), 23.9))
    awake_window = (slots >= wake[:, None]) & (slots < sleep[:, None])

    # Away windows: commute, office days, errands, weekend outings.
    commute_today = (not rest) & ((hh.kind == COMMUTERS) | ((hh.kind == HOME_OFFICE) & (rng.random(H) < 0.2)))
    leave_c = _slot(np.maximum(wake / 12 + 0.6, rng.normal(7.9, 0.4, H)))
    back_c = _slot(rng.normal(17.9, 0.9, H))
    errand = np.where(rest, rng.random(H) < 0.6, (hh.kind == RETIRED) & (rng.random(H) < 0.7))
    leave_e = _slot(np.where(rest, rng.normal(13.5, 1.5, H), rng.normal(10.0, 1.0, H)))
    back_e = leave_e + _slot(rng.uniform(1.0, 5.0 if rest else 3.0, H))
    leave = np.where(commute_today, leave_c, np.where(errand, leave_e, SLOTS))
    back = np.where(commute_today, back_c, np.where(errand, back_e, SLOTS))
    away = (slots >= leave[:, None]) & (slots < back[:, None])
    on_holiday = (day >= hh.vacation_start) & (day < hh.vacation_end)
    present = ~away & ~on_holiday[:, None]
    awake = present & awake_window
    asleep = present & ~awake_window

    # Phase of the day drives which room people are in.
    hour = slots * SLOT_MINUTES / 60.0
    wfh = ((not rest) & (hh.kind == HOME_OFFICE) & hh.has_office)[:, None] & (
        ((hour >= 9) & (hour < 12)) | ((hour >= 13) & (hour < 17.5))
    )
    phase = np.select(
        [slots < wake[:, None] + 12, wfh, hour < 18, hour < 20],
        [0, 4, 1, 2],
        default=3,
    )
    phase = np.where(awake, phase, -1)

    rooms = np.zeros((H, len(ROOMS), SLOTS), dtype=bool)
    people = np.zeros((H, len(ROOMS), SLOTS), dtype=np.int8)
    weights = np.broadcast_to(_ROOM_WEIGHTS, (H, *_ROOM_WEIGHTS.shape)).copy()
    weights[~hh.has_office, :, OFFICE] = 0.0
    weights /= weights.sum(axis=2, keepdims=True)
    block_phase = phase[:, ::BLOCK]  # [H, BLOCKS]
    for person in range(2):
        here = (hh.occupants > person)[:, None]
        cum = np.cumsum(weights[np.arange(H)[:, None], np.maximum(block_phase, 0)], axis=2)  # [H, BLOCKS, R]
        draw = (rng.random((H, BLOCKS, 1)) > cum).sum(axis=2).clip(0, len(ROOMS) - 1)
        choice = np.repeat(draw, BLOCK, axis=1)  # [H, SLOTS]
        active = awake & here
        for r in range(len(ROOMS)):
            hit = active & (choice == r)
            rooms[:, r] |= hit
            people[:, r] += hit.astype(np.int8)
    # Sleeping in the bedroom; passing the hallway when leaving or coming back.
    rooms[:, BEDROOM] |= asleep
    people[:, BEDROOM] += (asleep * np.minimum(hh.occupants, 2)[:, None]).astype(np.int8)
    moved = np.zeros_like(present)
    moved[:, 1:] = present[:, 1:] != present[:, :-1]
    rooms[:, HALLWAY] |= moved
    return DayOccupancy(present, awake, rooms, people, phase, wake, sleep)
