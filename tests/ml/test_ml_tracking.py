"""MLflow: every model is registered; ``champion`` moves only to a better model; scores land in DuckDB."""

from __future__ import annotations

import uuid

import duckdb
import mlflow
import pandas as pd
import polars as pl
import pytest
from mlflow import MlflowClient

from ml.behaviour import FEATURES, behaviour_features, latest_event_time
from ml.catalogue import Catalogue
from ml.drift import PSI_THRESHOLD
from ml.interactions import normalise_interactions
from ml.recommend import ALSRecommender, PopularityRecommender
from ml.recommender_pyfunc import request_frame
from ml.scoring import (
    champion_profiles,
    churn_scores,
    drift,
    load_champion,
    recommendation_scores,
    segment_scores,
    write_scores,
)
from ml.synthetic import synthetic_events, synthetic_interactions
from ml.tracking import TrackingConfig
from ml.training import train_churn_model, train_recommender, train_segmentation


def _name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _client(config: TrackingConfig) -> MlflowClient:
    return MlflowClient(tracking_uri=config.tracking_uri, registry_uri=config.tracking_uri)


def test_recommender_champion_moves_only_when_better(mlflow_config: TrackingConfig) -> None:
    inter, cat = synthetic_interactions(n_users=500, n_items=100, n_interactions=12_000, seed=8)
    catalogue = Catalogue.from_table(cat)
    name, client = _name("rec"), _client(mlflow_config)

    def run(register: str, **kw):
        models = {
            "popularity": PopularityRecommender(catalogue=catalogue),
            "als": ALSRecommender(catalogue=catalogue, factors=16, iterations=8),
        }
        return train_recommender(
            inter, catalogue=catalogue, models=models, register=register, model_name=name,
            config=mlflow_config, data_version={"build_file_mtime": "2026-01-01T00:00:00"}, **kw,
        )  # fmt: skip

    first = run("popularity")
    assert first.version == "1" and first.promoted and first.decision.previous_champion is None
    pop_ndcg = first.metrics["popularity.ndcg_at_10"]

    better = run("als")
    assert better.version == "2" and better.promoted
    # the old champion was re-scored on THIS run's evaluation data (same data: same score)
    assert better.decision.champion_score == pytest.approx(pop_ndcg, rel=1e-6)
    assert better.decision.candidate_score > better.decision.champion_score
    assert client.get_model_version_by_alias(name, "champion").version == 2

    worse = run("popularity")
    assert worse.version == "3" and not worse.promoted and worse.decision.alias == "challenger"
    assert worse.decision.champion_score == pytest.approx(better.decision.candidate_score, rel=1e-6)
    assert client.get_model_version_by_alias(name, "champion").version == 2
    assert client.get_model_version_by_alias(name, "challenger").version == 3

    tags = client.get_model_version(name, "3").tags
    assert tags["promotion_decision"] == "challenger" and tags["compared_with_version"] == "2"
    run_data = client.get_run(worse.run_id).data
    assert run_data.tags["promotion.decision"] == "challenger"
    assert run_data.tags["data_version.build_file_mtime"] == "2026-01-01T00:00:00"
    assert {
        "gate_candidate_ndcg_at_10",
        "gate_champion_ndcg_at_10",
        "als.ndcg_at_10",
        "popularity.coverage",
    } <= set(run_data.metrics)
    assert "plots/precision_at_k.png" in {a.path for a in client.list_artifacts(worse.run_id, "plots")}

    # what is registered is the evaluated model (trained before the test days), and says so
    assert run_data.params["trained_until"] == run_data.params["test_start"]
    assert run_data.tags["registration.policy"].startswith("evaluated_model")
    assert {"validation.als.ndcg_at_10", "validation.popularity.ndcg_at_10"} <= set(run_data.metrics)

    # scoring loads @champion (v2, ALS) and returns k items per user from the users' history
    champion = load_champion(name, config=mlflow_config)
    assert champion.version == "2"
    users = inter.get_column("user_id").unique().sort().head(20)
    history = normalise_interactions(inter)
    recs = champion.model.predict(request_frame(history, users), params={"k": 5})
    assert len(recs) == 100 and set(recs["source"]) == {"als"}
    # without history the (user-free) model can only treat them as cold-start users
    cold = champion.model.predict(pd.DataFrame({"user_id": users.to_list()}), params={"k": 5})
    assert set(cold["source"]) == {"trending"}
    stamped = recommendation_scores(
        champion, pl.DataFrame({"user_id": [*users.to_list(), "cold-user"]}), history, k=10
    )
    assert stamped.group_by("user_id").len()["len"].max() == 10
    assert set(stamped["model_version"]) == {"2"}
    assert stamped.filter(pl.col("user_id") == "cold-user")["source"].unique().to_list() == ["trending"]


def test_churn_and_segments_register_score_and_detect_drift(mlflow_config: TrackingConfig, tmp_path) -> None:
    events, _ = synthetic_events(n_users=400, n_days=120, cutoff_day=90, seed=12)
    churn_name, seg_name, client = _name("churn"), _name("seg"), _client(mlflow_config)

    outcome = train_churn_model(events, model_name=churn_name, config=mlflow_config)
    assert outcome.version == "1" and outcome.promoted
    assert outcome.metrics["lightgbm.roc_auc"] > 0.75 and outcome.metrics["logistic_regression.roc_auc"] > 0.6
    # the family with the better VALIDATION ROC-AUC is the one registered, and the run says why
    family = outcome.details["registered_family"]
    other = {"lightgbm", "logistic_regression"} - {family}
    assert (
        outcome.metrics[f"validation.{family}.roc_auc"]
        >= outcome.metrics[f"validation.{other.pop()}.roc_auc"]
    )
    assert outcome.decision.candidate_score == outcome.metrics[f"{family}.roc_auc"]
    run = client.get_run(outcome.run_id).data
    assert run.params["registered_family"] == family and run.tags["family_choice"].startswith(family)
    plots = {a.path for a in client.list_artifacts(outcome.run_id, "plots")}
    assert {"plots/roc.png", "plots/pr.png", "plots/calibration.png", "plots/feature_importance.png"} <= plots
    mv = client.get_model_version(churn_name, "1")
    model_info = mlflow.models.get_model_info(f"models:/{churn_name}/1")
    assert model_info.signature is not None and len(model_info.signature.inputs.input_names()) == len(
        FEATURES
    )
    assert mv.tags["promotion_decision"] == "promoted"

    champion = load_champion(churn_name, flavor="sklearn", config=mlflow_config)
    as_of = latest_event_time(events)
    features = behaviour_features(events, as_of)
    scores = churn_scores(champion, features, as_of)
    db = tmp_path / "build" / "marts_build.duckdb"
    assert write_scores(db, "churn_risk", scores) == features.height
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute(
            "select count(*), min(churn_probability), max(churn_probability), any_value(model_version) from scores.churn_risk"
        ).fetchone()
    finally:
        con.close()
    assert row is not None and row[0] == features.height and 0 <= row[1] <= row[2] <= 1 and row[3] == "1"

    stable = drift(champion, behaviour_features(events, outcome.details["cutoff"]))
    assert stable["psi"].max() < PSI_THRESHOLD
    shifted = features.with_columns(pl.col("recency_days") * 4 + 10, pl.col("sessions_14d") * 0)
    fired = drift(champion, shifted)
    assert set(fired.filter(pl.col("psi") > PSI_THRESHOLD)["feature"]) >= {"recency_days", "sessions_14d"}

    seg = train_segmentation(events, model_name=seg_name, config=mlflow_config, k_range=range(2, 6))
    assert seg.promoted and 2 <= seg.metrics["k"] <= 5
    assert {f"silhouette_k{k}" for k in range(2, 6)} <= set(seg.metrics)
    history = client.get_metric_history(seg.run_id, "silhouette_by_k")
    assert sorted(m.step for m in history) == [2, 3, 4, 5]
    seg_champion = load_champion(seg_name, flavor="sklearn", config=mlflow_config)
    assigned = segment_scores(seg_champion, features, champion_profiles(seg_champion))
    assert assigned.height == features.height and assigned["segment_label"].null_count() == 0
    assert write_scores(db, "user_segments", assigned) == features.height
