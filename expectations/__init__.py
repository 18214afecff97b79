"""Beacon's data-quality suites (Great Expectations Core 1.x), declared as code.

Importing this package does NOT import Great Expectations (it takes seconds): suites are plain
data (:mod:`expectations.model`) built from the contracts and the dbt vars, and GX is imported
only when a suite runs (:mod:`expectations.runner`).

- :mod:`expectations.bronze` - blocking bronze suites derived from ``lakehouse.contracts``
- :mod:`expectations.landing_ledger` - lines read = landed + quarantined + duplicates (+ skipped)
- :mod:`expectations.marts` - mart ranges, relations and revenue reconciliation (DuckDB + GX)
- :mod:`expectations.distribution` - warn-only volume, null-rate and silent-sensor checks
- :mod:`expectations.suites` - load + run, what the Dagster checks call
- :mod:`expectations.docs` - Data Docs under ``BEACON_DATA_DIR/gx`` (``python -m expectations.docs``)
"""

from expectations.model import CheckInfo, Expectation, Severity, Suite, When

__all__ = ["CheckInfo", "Expectation", "Severity", "Suite", "When"]
