"""Bronze landing: raw files under ``landing/`` to Delta tables, exactly once, nothing lost."""

from lakehouse.landing.engine import FileResult, Lander, LandingReport, land, report_json
from lakehouse.landing.files import LandingFile, discover, sha256_file
from lakehouse.landing.schemas import (
    LEDGER_TABLE,
    QUARANTINE_SCHEMA,
    QUARANTINE_TABLE,
    TABLES,
    bronze_schema,
)

__all__ = [
    "LEDGER_TABLE",
    "QUARANTINE_SCHEMA",
    "QUARANTINE_TABLE",
    "TABLES",
    "FileResult",
    "Lander",
    "LandingFile",
    "LandingReport",
    "bronze_schema",
    "discover",
    "land",
    "report_json",
    "sha256_file",
]
