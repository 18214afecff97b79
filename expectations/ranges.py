"""Physical ranges of sensor values, per sensor type and unit.

A value outside these bounds is not an unusual reading, it is a broken sensor or a unit mix-up
(a Fahrenheit thermostat reporting as Celsius, a CO2 sensor stuck at 0). The contract only
rejects non-finite values and non-binary states; these bounds are what bronze must satisfy
before marts average over it. Every (type, unit) pair of the contract's ``UNITS`` has an entry
(a test enforces it), so a new unit cannot slip in unchecked.
"""

from __future__ import annotations

from lakehouse.contracts.sensors import BINARY_TYPES, UNITS

#: (sensor_type, unit) -> (min, max); None = unbounded on that side.
PHYSICAL_RANGES: dict[tuple[str, str], tuple[float | None, float | None]] = {
    ("temperature", "C"): (-40.0, 60.0),  # indoor/outdoor air in inhabited climates
    ("humidity", "%"): (0.0, 100.0),  # relative humidity
    ("light", "lux"): (0.0, 200_000.0),  # direct sunlight is ~100k lux
    ("co2", "ppm"): (250.0, 10_000.0),  # below outdoor air is impossible; NDIR sensors top out at 10k
    ("power", "W"): (0.0, 50_000.0),  # a three-phase household connection is ~43 kW
    ("energy", "Wh"): (0.0, None),  # meter readings only grow
    ("pressure", "hPa"): (870.0, 1085.0),  # world records at sea level
    ("pressure", "mmHg"): (650.0, 815.0),
    ("wind_speed", "m/s"): (0.0, 113.0),  # highest gust ever measured
    ("visibility", "km"): (0.0, 250.0),
    **{(t, u): (0.0, 1.0) for t in BINARY_TYPES for u in UNITS[t]},
}

#: Binary sensors report exactly 0 or 1 (a range is not enough: 0.5 is not a state).
BINARY_VALUES: tuple[float, ...] = (0.0, 1.0)


def missing_ranges() -> list[tuple[str, str]]:
    """(type, unit) pairs the contract allows but this table does not bound (must be empty)."""
    return [(t, u) for t, units in UNITS.items() for u in units if (t, u) not in PHYSICAL_RANGES]
