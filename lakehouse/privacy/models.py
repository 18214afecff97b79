"""Erasure and trained models: flag every registered model version that may have learnt from the person.

A model cannot unlearn one person, and MLflow keeps each version's artifacts. Which versions saw
the person's data is not tracked per person, so every version of Beacon's registered models is
flagged (tag :data:`RETRAIN_TAG` = ``"true"`` and :data:`REQUEST_TAG` = the audit request id);
the erasure job then requests ``ml_training_job``, whose new versions are trained on data that no
longer holds the person. Tags and ids in MLflow never name the person.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlparse

from ml.model_names import CHURN_MODEL, RECOMMENDER_MODEL, SEGMENT_MODEL
from ml.tracking_config import TrackingConfig

RETRAIN_TAG = "beacon.retrain_required"
REQUEST_TAG = "beacon.erasure_request"
MODELS: tuple[str, ...] = (RECOMMENDER_MODEL, CHURN_MODEL, SEGMENT_MODEL)


def _store_exists(tracking_uri: str) -> bool:
    """Whether a local sqlite store exists (opening a missing one would CREATE it, which takes seconds)."""
    if not tracking_uri.startswith("sqlite:"):
        return True
    from pathlib import Path

    return (
        Path(urlparse(tracking_uri).path).exists() or Path(tracking_uri.removeprefix("sqlite:///")).exists()
    )


def flag_for_retraining(
    tracking: TrackingConfig, request_id: str, models: Sequence[str] = MODELS
) -> list[str]:
    """Tag every version of ``models`` as needing retraining; returns ``name/version`` flagged."""
    if not _store_exists(tracking.tracking_uri):
        return []
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking.tracking_uri, registry_uri=tracking.tracking_uri)
    flagged: list[str] = []
    for name in models:
        try:
            versions = client.search_model_versions(f"name = '{name}'")
        except MlflowException:
            continue
        for v in versions:
            client.set_model_version_tag(name, v.version, RETRAIN_TAG, "true")
            client.set_model_version_tag(name, v.version, REQUEST_TAG, request_id)
            flagged.append(f"{name}/{v.version}")
    return flagged
