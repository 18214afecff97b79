"""Data contracts: the one definition of what Beacon ingests (see ``docs/contracts.md``)."""

from lakehouse.contracts.clickstream import CLICKSTREAM, EVENT_TYPES
from lakehouse.contracts.model import (
    OFFSET_COLUMN,
    REASONS_COLUMN,
    TIMESTAMP,
    Contract,
    Field,
    Rule,
    Violation,
    validate_frame,
    validate_record,
)
from lakehouse.contracts.sensors import SENSOR_TYPES, SENSORS, UNITS

CONTRACTS: dict[str, Contract] = {"clickstream": CLICKSTREAM, "sensors": SENSORS}

__all__ = [
    "CLICKSTREAM",
    "CONTRACTS",
    "EVENT_TYPES",
    "OFFSET_COLUMN",
    "REASONS_COLUMN",
    "SENSORS",
    "SENSOR_TYPES",
    "TIMESTAMP",
    "UNITS",
    "Contract",
    "Field",
    "Rule",
    "Violation",
    "validate_frame",
    "validate_record",
]
