"""MLflow plumbing: where runs go, how models are registered and when ``champion`` moves.

MLflow 3 writes ``./mlflow.db`` and ``./mlruns`` relative to the working directory unless told
otherwise, which scatters state across wherever a process happened to start. Every entry point
therefore calls :func:`activate` with an explicit tracking URI AND an explicit artifact
location per experiment: ``$BEACON_DATA_DIR/mlflow/mlflow.db`` and ``.../mlflow/artifacts/``
by default, or ``MLFLOW_TRACKING_URI`` (+ ``BEACON_MLFLOW_ARTIFACTS``) when configured.

Promotion is gated: a new version becomes ``champion`` only if it beats the current champion
re-scored on THIS run's evaluation data (scores from different data are not comparable);
otherwise it becomes ``challenger``. Both scores and the decision are logged on the run and
tagged on the model version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

# TrackingConfig is defined in a light module (no MLflow import) and re-exported here.
from ml.tracking_config import ARTIFACTS_ENV as ARTIFACTS_ENV
from ml.tracking_config import TrackingConfig

CHAMPION, CHALLENGER = "champion", "challenger"


def activate(config: TrackingConfig) -> MlflowClient:
    """Point MLflow (tracking AND registry) at ``config``; create local folders. Returns a client."""
    for uri in (config.tracking_uri, config.artifact_root):
        if uri.startswith("sqlite:///"):
            Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        elif uri.startswith("file://"):
            Path(uri.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(config.tracking_uri)
    mlflow.set_registry_uri(config.tracking_uri)
    return MlflowClient(tracking_uri=config.tracking_uri, registry_uri=config.tracking_uri)


def experiment_id(client: MlflowClient, config: TrackingConfig, name: str) -> str:
    """The experiment ``name``, created with an explicit artifact location if new."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name, artifact_location=f"{config.artifact_root}/{name}")
    except MlflowException:  # created concurrently by another run
        found = client.get_experiment_by_name(name)
        assert found is not None
        return found.experiment_id


def current_champion(client: MlflowClient, model_name: str) -> str | None:
    """Version currently aliased ``champion``, or None."""
    try:
        return str(client.get_model_version_by_alias(model_name, CHAMPION).version)
    except MlflowException:
        return None


@dataclass(frozen=True)
class Decision:
    """What the gate decided for one newly registered version."""

    model_name: str
    version: str
    promoted: bool
    alias: str
    candidate_score: float
    champion_score: float | None
    previous_champion: str | None
    metric: str

    def describe(self) -> str:
        if self.previous_champion is None:
            return f"v{self.version} is the first {self.model_name} champion ({self.metric}={self.candidate_score:.4f})"
        verdict = "promoted to champion" if self.promoted else "kept as challenger"
        return (
            f"v{self.version} {verdict}: {self.metric} {self.candidate_score:.4f} vs champion "
            f"v{self.previous_champion} {self.champion_score:.4f} on the same evaluation data"
        )


def gate(
    client: MlflowClient,
    model_name: str,
    version: str,
    candidate_score: float,
    rescore_champion: Callable[[str], float],
    metric: str,
    higher_is_better: bool = True,
) -> Decision:
    """Move ``champion`` to ``version`` if it beats the current champion, else alias it ``challenger``.

    ``rescore_champion(model_uri)`` scores the current champion on this run's evaluation data.
    A champion that cannot be scored (e.g. its feature set no longer exists) loses, and says so.
    Ties keep the incumbent: a new version must be strictly better to take over.
    """
    previous = current_champion(client, model_name)
    champion_score: float | None = None
    if previous is None or previous == version:
        promoted = True
    else:
        try:
            champion_score = float(rescore_champion(f"models:/{model_name}@{CHAMPION}"))
        except Exception as exc:
            mlflow.set_tag("champion_rescore_error", f"{type(exc).__name__}: {exc}"[:500])
            champion_score = float("-inf") if higher_is_better else float("inf")
        promoted = candidate_score > champion_score if higher_is_better else candidate_score < champion_score
    alias = CHAMPION if promoted else CHALLENGER
    client.set_registered_model_alias(model_name, alias, version)
    decision = Decision(
        model_name=model_name,
        version=str(version),
        promoted=promoted,
        alias=alias,
        candidate_score=float(candidate_score),
        champion_score=champion_score,
        previous_champion=previous,
        metric=metric,
    )
    _record(client, decision)
    return decision


def _record(client: MlflowClient, decision: Decision) -> None:
    mlflow.log_metric(f"gate_candidate_{decision.metric}", decision.candidate_score)
    if decision.champion_score is not None:
        mlflow.log_metric(f"gate_champion_{decision.metric}", decision.champion_score)
    mlflow.set_tags(
        {
            "promotion.decision": "promoted" if decision.promoted else "challenger",
            "promotion.previous_champion": decision.previous_champion or "",
            "promotion.detail": decision.describe(),
        }
    )
    for key, value in {
        "promotion_decision": "promoted" if decision.promoted else "challenger",
        "gate_metric": decision.metric,
        "candidate_score": f"{decision.candidate_score:.6f}",
        "champion_score": "" if decision.champion_score is None else f"{decision.champion_score:.6f}",
        "compared_with_version": decision.previous_champion or "",
    }.items():
        client.set_model_version_tag(decision.model_name, decision.version, key, value)


def log_data_version(data_version: Mapping[str, Any] | None) -> None:
    """Record which data a run saw (Delta table versions, build-file snapshot) as params and tags."""
    for key, value in (data_version or {}).items():
        mlflow.set_tag(f"data_version.{key}", str(value))
    if data_version:
        mlflow.log_params({f"data.{k}": str(v)[:500] for k, v in data_version.items()})


def pinned_requirements(*packages: str) -> list[str]:
    """Exact installed versions, so MLflow does not spend seconds inferring requirements."""
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("mlflow", *packages)]


def own_types(model: Any) -> list[str]:
    """Types skops must be told to trust to load ``model`` (MLflow 3 saves sklearn models with skops).

    We only ever pass models this process just trained, so trusting their own types is safe;
    loading stays an allow-list (stored with the model) rather than a blanket pickle.
    """
    import skops.io

    return sorted(skops.io.get_untrusted_types(data=skops.io.dumps(model)))
