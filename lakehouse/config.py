"""Where Beacon keeps what it writes.

Everything the pipeline writes lives under one root, ``BEACON_DATA_DIR``, so a team can back
it up, wipe it or point it at another disk with one variable. The default is ``./data`` inside
the project (git-ignored), which is what ``make demo`` uses.

Layout under the root::

    landing/            incoming files (one folder per source, kept after landing for replay)
    delta/<layer>/<t>   Delta tables, e.g. delta/bronze/clickstream_events
    marts.duckdb        the published, BI-facing DuckDB file (read-only for BI tools)
    build/              private DuckDB files the dbt build writes before publishing
    mlflow/             MLflow tracking store (sqlite) and artifacts
    dagster/            DAGSTER_HOME (run storage, logs)
    truth/              ground truth written by ``beacon generate`` (the pipeline never reads it)
    gx/                 Great Expectations Data Docs (static site)
    spark/              Spark engine only: warehouse, metastore, staging (see lakehouse/engine.py)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: The schemas dbt builds, in layer order (on Spark also the folders of its Delta exports under delta/).
DBT_SCHEMAS = ("staging", "intermediate", "marts")
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"


@dataclass(frozen=True)
class DataPaths:
    """Every path the pipeline writes, derived from one root."""

    root: Path

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def delta(self) -> Path:
        return self.root / "delta"

    def table(self, layer: str, name: str) -> Path:
        return self.delta / layer / name

    @property
    def marts(self) -> Path:
        return self.root / "marts.duckdb"

    @property
    def build(self) -> Path:
        return self.root / "build"

    @property
    def mlflow(self) -> Path:
        return self.root / "mlflow"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def truth(self) -> Path:
        return self.root / "truth"

    @property
    def gx(self) -> Path:
        return self.root / "gx"

    @property
    def spark(self) -> Path:
        return self.root / "spark"


def data_dir() -> Path:
    """The data root: ``$BEACON_DATA_DIR`` or ``<project>/data``."""
    raw = os.environ.get("BEACON_DATA_DIR")
    return Path(raw).expanduser().resolve() if raw else DEFAULT_DATA_DIR


def paths(root: str | os.PathLike[str] | None = None) -> DataPaths:
    """Paths under ``root`` (default: :func:`data_dir`)."""
    return DataPaths(Path(root).expanduser().resolve() if root is not None else data_dir())
