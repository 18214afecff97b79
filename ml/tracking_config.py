"""Where MLflow runs and artifacts go, as a plain value importable without MLflow.

Kept apart from :mod:`ml.tracking` so that code which only needs to *name* the tracking store
(the Dagster asset module, loaded on every code-location start) does not pay for importing
MLflow; :mod:`ml.tracking` re-exports :class:`TrackingConfig` for everything else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from lakehouse.config import DataPaths, paths

ARTIFACTS_ENV = "BEACON_MLFLOW_ARTIFACTS"


@dataclass(frozen=True)
class TrackingConfig:
    """Tracking/registry URI and the root under which each experiment keeps its artifacts."""

    tracking_uri: str
    artifact_root: str

    @classmethod
    def default(cls, data_paths: DataPaths | None = None) -> TrackingConfig:
        """``MLFLOW_TRACKING_URI`` if set, else sqlite under ``<data>/mlflow``; artifacts likewise."""
        root = (data_paths or paths()).mlflow
        uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / 'mlflow.db'}"
        artifacts = os.environ.get(ARTIFACTS_ENV) or (root / "artifacts").as_uri()
        return cls(tracking_uri=uri, artifact_root=artifacts.rstrip("/"))
