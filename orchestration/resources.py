"""Resources shared by every asset: where data lives and the pseudonymisation key.

Both are configured from the environment (``BEACON_DATA_DIR``, ``BEACON_HMAC_KEY``) so the same
code location runs the demo, the tests (under ``tmp_path``) and production unchanged.
"""

from __future__ import annotations

import os

import dagster as dg

from lakehouse.config import DataPaths, paths
from lakehouse.pseudonymise import KEY_ENV, resolve_key

#: Every asset that writes a DuckDB file runs in this concurrency pool (DuckDB allows one
#: writing process per file). Its limit is set to 1 in ``dagster.yaml`` / the instance.
DUCKDB_POOL = "duckdb_writer"

#: One daily partitioning for every partitioned asset (UTC days), so a partitioned job can span
#: layers. Bronze keys it by delivery day, the incremental dbt models by event day (with a lookback).
#: ``end_offset=1`` lets today's partition run before the day is over (minute-level landing).
DAILY_PARTITIONS = dg.DailyPartitionsDefinition(start_date="2025-01-01", timezone="UTC", end_offset=1)


class LakehouseResource(dg.ConfigurableResource):
    """The data root of this deployment: ``data_dir`` if set, else ``$BEACON_DATA_DIR`` at run time."""

    data_dir: str = ""

    @property
    def paths(self) -> DataPaths:
        return paths(self.data_dir or None)


class PseudonymKeyResource(dg.ConfigurableResource):
    """The HMAC key for identifiers, read from the environment variable named by ``env_var``.

    Only the variable's *name* is configuration: the key itself never enters run config, asset
    metadata or logs. Unset, the built-in demo key is used with a loud warning (NOT for production).
    """

    env_var: str = KEY_ENV

    def resolve(self) -> str:
        return resolve_key(os.environ.get(self.env_var) or None)


def default_resources() -> dict[str, dg.ConfigurableResource]:
    return {"lakehouse": LakehouseResource(), "pseudonym_key": PseudonymKeyResource()}
