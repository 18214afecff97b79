"""Train, log, register and gate each model family in one call (what the Dagster assets run).

One MLflow experiment per family (``beacon-recommender``, ``beacon-churn``,
``beacon-segmentation``); each run logs params, metrics, the data version it saw, plots, a model
with signature and input example, registers it as a new version and lets :func:`ml.tracking.gate`
decide between ``champion`` and ``challenger``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import polars as pl
from mlflow.models import ModelSignature, infer_signature
from mlflow.types.schema import ColSpec, Schema

from ml import plots
from ml.behaviour import FEATURES, behaviour_features, latest_event_time
from ml.catalogue import Catalogue
from ml.churn import churn_dataset, classification_metrics, train_churn
from ml.interactions import BOUGHT, ITEM, USER, WEIGHT
from ml.model_names import CHURN_MODEL, RECOMMENDER_MODEL, SEGMENT_MODEL
from ml.recommend import Evaluation, evaluate_models, score_recommendations
from ml.recommender_pyfunc import ARTIFACT, DEFAULT_PARAMS, RecommenderModel, request_frame, save_recommender
from ml.recommenders import Recommender
from ml.segments import SEGMENT_FEATURES, fit_segments, segment_matrix, silhouette_of
from ml.tracking import (
    Decision,
    TrackingConfig,
    activate,
    experiment_id,
    gate,
    log_data_version,
    own_types,
    pinned_requirements,
)

REFERENCE_FEATURES = "reference/features.parquet"
#: Rows of training features kept as the drift reference (a sample is enough for deciles).
REFERENCE_ROWS = 50_000


@dataclass
class TrainingOutcome:
    """What one training run produced: registered version, gate decision, metrics."""

    family: str
    model_name: str
    version: str
    run_id: str
    decision: Decision
    metrics: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def promoted(self) -> bool:
        return self.decision.promoted


def _log_figure(fig: Any, name: str) -> None:
    mlflow.log_figure(fig, f"plots/{name}")
    plots.close(fig)


def _start(family: str, config: TrackingConfig | None) -> tuple[Any, TrackingConfig]:
    cfg = config or TrackingConfig.default()
    client = activate(cfg)
    exp = experiment_id(client, cfg, f"beacon-{family}")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    mlflow.start_run(experiment_id=exp, run_name=f"{family}-{stamp}")
    mlflow.set_tag("family", family)
    return client, cfg


# --------------------------------------------------------------------------- recommender
#: What is registered, and why (logged on every recommender and churn run as tag ``registration.policy``).
REGISTRATION_POLICY = (
    "evaluated_model: the registered model is the one whose test score is reported (fitted on "
    "everything before the test days), not a refit on all data. Its score is then an honest "
    "held-out score of the exact artifact that serves, and the gate compares artifacts on the same "
    "test days that neither saw: a champion's training ended at its own, earlier, test cutoff. "
    "The cost is small because models are item-side only: users' factors are solved from their "
    "current history when scoring, so only items first seen in the last test days wait for the "
    "next (weekly) retraining."
)


def train_recommender(
    interactions: Any,
    *,
    catalogue: Catalogue | None = None,
    test_days: int = 7,
    validation_days: int = 7,
    k: int = 10,
    models: Mapping[str, Recommender] | None = None,
    register: str = "best",
    als_grid: Mapping[str, Sequence[Any]] | None = None,
    columns: Mapping[str, str] | None = None,
    data_version: Mapping[str, Any] | None = None,
    config: TrackingConfig | None = None,
    model_name: str = RECOMMENDER_MODEL,
) -> TrainingOutcome:
    """Evaluate every recommender on one three-way temporal split, register one, gate it.

    ``register="best"`` registers the model with the best VALIDATION NDCG@k (the test days
    never influence a choice); or name one (popularity, item_cosine, als). What is registered
    is the evaluated model (see :data:`REGISTRATION_POLICY`). The gate re-scores the current
    champion on this run's test users with this run's pre-test histories as input and promotes
    only if the candidate's test NDCG@k is strictly higher.
    """
    client, _ = _start("recommender", config)
    try:
        evaluation = evaluate_models(
            interactions,
            test_days=test_days,
            validation_days=validation_days,
            k=k,
            models=models,
            catalogue=catalogue,
            columns=columns,
            als_grid=als_grid,
        )
        ndcg = f"ndcg_at_{k}"
        chosen = evaluation.best_on_validation(ndcg) if register == "best" else register
        split = evaluation.split
        mlflow.log_params(
            {
                "test_days": test_days,
                "validation_days": validation_days,
                "k": k,
                "validation_start": split.validation_start.isoformat(),
                "test_start": split.test_start.isoformat(),
                "trained_until": split.test_start.isoformat(),
                "train_interactions": split.train.height,
                "validation_interactions": split.validation.height,
                "test_interactions": split.test.height,
                "users": split.history.get_column("user_id").n_unique(),
                "items": len(evaluation.models[chosen].items_),
                "registered_model": chosen,
                "register_rule": "best validation " + ndcg if register == "best" else "named",
                **{
                    f"{name}.{key}": value
                    for name, m in evaluation.models.items()
                    for key, value in m.params().items()
                },
            }
        )
        mlflow.set_tags({"registration.policy": REGISTRATION_POLICY, "registered_model": chosen})
        log_data_version(data_version)
        flat = _flatten_metrics(evaluation)
        mlflow.log_metrics(flat)
        mlflow.log_text(evaluation.metrics.write_csv(), "evaluation/test_metrics.csv")
        if evaluation.validation is not None:
            mlflow.log_text(evaluation.validation.write_csv(), "evaluation/validation_metrics.csv")
        _log_figure(plots.precision_at_k_figure(evaluation.curves), "precision_at_k.png")
        version, run_id = _log_recommender(evaluation.models[chosen], evaluation, model_name)
        request = request_frame(evaluation.eval_set.user_history(), evaluation.eval_set.users)

        def rescore(uri: str) -> float:
            champion = mlflow.pyfunc.load_model(uri)
            recs = pl.from_pandas(champion.predict(request, params={"k": k}))
            return score_recommendations(recs, evaluation.eval_set)[ndcg]

        decision = gate(client, model_name, version, evaluation.metric(chosen, ndcg), rescore, ndcg)
        return TrainingOutcome(
            family="recommender",
            model_name=model_name,
            version=version,
            run_id=run_id,
            decision=decision,
            metrics=flat,
            details={"evaluation": evaluation, "registered_model": chosen},
        )
    finally:
        mlflow.end_run()


def _flatten_metrics(evaluation: Evaluation) -> dict[str, float]:
    """``<model>.<metric>`` (test), ``validation.<model>.<metric>`` and the ALS-vs-popularity margins."""
    flat = {
        f"{row['model']}.{key}": float(value)
        for row in evaluation.metrics.iter_rows(named=True)  # one row per model (3), not per data row
        for key, value in row.items()
        if key != "model"
    }
    if evaluation.validation is not None:
        selected = evaluation.validation.filter(pl.col("selected"))
        metric_cols = [c for c in evaluation.metrics.columns if c != "model"]
        flat |= {
            f"validation.{row['model']}.{key}": float(row[key])
            for row in selected.iter_rows(named=True)  # one row per model
            for key in metric_cols
        }
    names = set(evaluation.metrics.get_column("model"))
    if {"als", "popularity"} <= names:
        k = evaluation.eval_set.k
        flat[f"als_vs_popularity.ndcg_at_{k}_margin"] = evaluation.margin(f"ndcg_at_{k}")
    return flat


def _placeholder_request(evaluation: Evaluation) -> pd.DataFrame:
    """An input example with NO real user: two made-up users holding real (non-personal) item ids.

    Input examples and signatures are stored with the model; copying real users' rows there
    would keep a person in MLflow after they are erased from Beacon.
    """
    items = evaluation.eval_set.popularity.sort("popularity_pct", descending=True).get_column(ITEM).head(3)
    history = pl.DataFrame(
        {
            USER: ["example-user-1"] * len(items),
            ITEM: items,
            WEIGHT: [1.0] * len(items),
            BOUGHT: [False] * len(items),
        },
        schema_overrides={WEIGHT: pl.Float32},
    )
    return request_frame(history, pl.Series([*["example-user-1"], "example-cold-user"]))


def _request_signature(inferred: ModelSignature) -> ModelSignature:
    """The inferred signature with only ``user_id`` required (history and consent columns are optional)."""
    assert inferred.inputs is not None
    inputs = Schema(
        [
            ColSpec(spec.type, spec.name, required=spec.name == USER)  # type: ignore[arg-type]
            for spec in inferred.inputs.inputs
        ]
    )
    return ModelSignature(inputs=inputs, outputs=inferred.outputs, params=inferred.params)


def _log_recommender(recommender: Recommender, evaluation: Evaluation, model_name: str) -> tuple[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = save_recommender(recommender, Path(tmp))
        example = _placeholder_request(evaluation)
        wrapper = RecommenderModel()
        wrapper.recommender = recommender
        output = wrapper.predict(None, example, DEFAULT_PARAMS)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=RecommenderModel(),
            artifacts={ARTIFACT: str(path)},
            signature=_request_signature(infer_signature(example, output, params=DEFAULT_PARAMS)),
            input_example=example,
            registered_model_name=model_name,
            pip_requirements=pinned_requirements("polars", "numpy", "scipy", "implicit", "threadpoolctl"),
        )
    run = mlflow.active_run()
    assert run is not None
    return str(info.registered_model_version), run.info.run_id


# --------------------------------------------------------------------------------- churn
def train_churn_model(
    events: Any,
    *,
    cutoff: dt.datetime | None = None,
    horizon_days: int = 30,
    lookback_days: int = 90,
    data_version: Mapping[str, Any] | None = None,
    config: TrackingConfig | None = None,
    model_name: str = CHURN_MODEL,
    seed: int = 42,
) -> TrainingOutcome:
    """Label churn at ``cutoff`` (default: ``horizon_days`` before the last event), fit LightGBM and LR, gate.

    Users are split train / validation / test (:func:`ml.churn.train_churn`); the family with
    the better VALIDATION ROC-AUC is registered (decision logged as param ``registered_family``
    and tag ``family_choice``), both families' test metrics are logged side by side, and the
    gate compares the candidate with the champion on the same test users by ROC-AUC.
    """
    dataset, cutoff = churn_dataset(events, cutoff, horizon_days, lookback_days)
    client, _ = _start("churn", config)
    try:
        result = train_churn(dataset, seed=seed)
        model = result.model
        lgbm = result.models["lightgbm"]
        mlflow.log_params(
            {
                "cutoff": cutoff.isoformat(),
                "horizon_days": horizon_days,
                "lookback_days": lookback_days,
                "users": dataset.height,
                **{f"{part}_users": n for part, n in result.sizes.items()},
                "features": ",".join(FEATURES),
                "registered_family": result.chosen,
                "lightgbm.best_iteration": lgbm.best_iteration_,
                **{f"lightgbm.{k}": v for k, v in lgbm.get_params().items()},
            }
        )
        val = result.validation_metrics
        mlflow.set_tags(
            {
                "registration.policy": REGISTRATION_POLICY,
                "family_choice": (
                    f"{result.chosen} registered: validation ROC-AUC lightgbm "
                    f"{val['lightgbm']['roc_auc']:.4f} vs logistic_regression "
                    f"{val['logistic_regression']['roc_auc']:.4f}"
                ),
            }
        )
        log_data_version(data_version)
        flat = {f"{m}.{k}": v for m, values in result.metrics.items() for k, v in values.items()}
        flat |= {f"validation.{m}.{k}": v for m, values in val.items() for k, v in values.items()}
        flat["churn_rate"] = result.churn_rate
        flat["roc_auc_margin_vs_baseline"] = (
            result.metrics["lightgbm"]["roc_auc"] - result.metrics["logistic_regression"]["roc_auc"]
        )
        flat["registered.roc_auc"] = result.metrics[result.chosen]["roc_auc"]
        mlflow.log_metrics(flat)
        mlflow.log_text(result.importances.write_csv(), "evaluation/feature_importance.csv")
        _log_figure(plots.roc_figure(result.y_test, result.probabilities), "roc.png")
        _log_figure(plots.pr_figure(result.y_test, result.probabilities), "pr.png")
        _log_figure(plots.calibration_figure(result.calibration), "calibration.png")
        _log_figure(
            plots.importance_figure(
                result.importances["feature"].to_list(), result.importances["gain"].to_numpy()
            ),
            "feature_importance.png",
        )
        _log_reference(result.x_train)
        x_example = result.x_test.head(5).to_pandas()  # features only: no user id
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x_example, model.predict_proba(x_example)),
            input_example=x_example,
            pyfunc_predict_fn="predict_proba",
            registered_model_name=model_name,
            pip_requirements=pinned_requirements("scikit-learn", "lightgbm", "skops"),
            skops_trusted_types=own_types(model),
        )
        x_test = result.x_test.to_pandas()

        def rescore(uri: str) -> float:
            champion = mlflow.sklearn.load_model(uri)
            return classification_metrics(result.y_test, champion.predict_proba(x_test)[:, 1])["roc_auc"]

        version = str(info.registered_model_version)
        decision = gate(
            client, model_name, version, result.metrics[result.chosen]["roc_auc"], rescore, "roc_auc"
        )
        run = mlflow.active_run()
        assert run is not None
        return TrainingOutcome(
            family="churn",
            model_name=model_name,
            version=version,
            run_id=run.info.run_id,
            decision=decision,
            metrics=flat,
            details={"training": result, "cutoff": cutoff, "registered_family": result.chosen},
        )
    finally:
        mlflow.end_run()


def _log_reference(features: pl.DataFrame) -> None:
    """Keep a sample of the training features on the run: the drift check's reference population."""
    sample = features.sample(min(features.height, REFERENCE_ROWS), seed=0) if features.height else features
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "features.parquet"
        sample.write_parquet(path)
        mlflow.log_artifact(str(path), artifact_path="reference")


# -------------------------------------------------------------------------- segmentation
def train_segmentation(
    events: Any,
    *,
    as_of: dt.datetime | None = None,
    lookback_days: int = 90,
    k_range: range = range(2, 9),
    data_version: Mapping[str, Any] | None = None,
    config: TrackingConfig | None = None,
    model_name: str = SEGMENT_MODEL,
    seed: int = 42,
) -> TrainingOutcome:
    """K-means over ``k_range`` on users active in the ``lookback_days`` before ``as_of`` (default: now of the data)."""
    as_of = as_of or latest_event_time(events)
    features = behaviour_features(events, as_of, lookback_days)
    client, _ = _start("segmentation", config)
    try:
        seg = fit_segments(features, k_range=k_range, seed=seed)
        mlflow.log_params(
            {
                "as_of": as_of.isoformat(),
                "lookback_days": lookback_days,
                "k_range": f"{k_range.start}-{k_range.stop - 1}",
                "chosen_k": seg.k,
                "users": features.height,
                "features": ",".join(SEGMENT_FEATURES),
            }
        )
        log_data_version(data_version)
        for k, s in seg.silhouettes.items():
            mlflow.log_metric("silhouette_by_k", s, step=k)
        flat = {f"silhouette_k{k}": s for k, s in seg.silhouettes.items()}
        flat["silhouette"] = seg.silhouettes[seg.k]
        flat["k"] = float(seg.k)
        mlflow.log_metrics(flat)
        mlflow.log_text(seg.profiles.write_csv(), "evaluation/segment_profiles.csv")
        _log_figure(plots.silhouette_figure(seg.silhouettes, seg.k), "silhouette_by_k.png")
        _log_reference(features.select(FEATURES))
        x = segment_matrix(features)
        x_example = x.head(5)
        info = mlflow.sklearn.log_model(
            seg.pipeline,
            name="model",
            signature=infer_signature(x_example, seg.pipeline.predict(x_example)),
            input_example=x_example,
            registered_model_name=model_name,
            pip_requirements=pinned_requirements("scikit-learn", "skops"),
            skops_trusted_types=own_types(seg.pipeline),
        )

        def rescore(uri: str) -> float:
            return silhouette_of(mlflow.sklearn.load_model(uri), x, seed=seed)

        version = str(info.registered_model_version)
        candidate = silhouette_of(seg.pipeline, x, seed=seed)
        decision = gate(client, model_name, version, candidate, rescore, "silhouette")
        run = mlflow.active_run()
        assert run is not None
        return TrainingOutcome(
            family="segmentation",
            model_name=model_name,
            version=version,
            run_id=run.info.run_id,
            decision=decision,
            metrics=flat,
            details={"segmentation": seg, "as_of": as_of},
        )
    finally:
        mlflow.end_run()
