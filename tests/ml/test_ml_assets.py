"""The Dagster ML assets end to end on a small build file shaped like the marts (slow: ~1 min)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from ml.drift import PSI_THRESHOLD
from ml.tracking import TrackingConfig
from orchestration.assets import ml as ml_assets
from orchestration.resources import DUCKDB_POOL, LakehouseResource, default_resources


def _materialize(
    selection: list, root: Path, instance: dg.DagsterInstance, tags: dict | None = None
) -> dg.ExecuteInJobResult:
    return dg.materialize(
        selection,
        resources={"lakehouse": LakehouseResource(data_dir=str(root))},
        instance=instance,
        tags=tags,
    )


@pytest.mark.slow
def test_ml_assets_train_score_and_check_drift(
    data_dir: Path, mlflow_env: TrackingConfig, fixture_build_db: Callable[..., dict[str, pl.DataFrame]]
) -> None:
    db = data_dir / "build" / "marts_build.duckdb"
    fixture = fixture_build_db(db)
    defs = ml_assets.defs
    specs = {a.key: a for a in defs.assets}  # type: ignore[union-attr]
    assert all(s.group_names_by_key[k] == "ml" for k, s in specs.items())  # type: ignore[union-attr]
    assert all(s.op.pool == DUCKDB_POOL for s in specs.values())  # type: ignore[union-attr]
    assert "mlflow" in specs[ml_assets.RECOMMENDER_KEY].specs_by_key[ml_assets.RECOMMENDER_KEY].kinds  # type: ignore[union-attr]
    rec_deps = {
        d.asset_key for d in specs[ml_assets.RECOMMENDER_KEY].specs_by_key[ml_assets.RECOMMENDER_KEY].deps
    }  # type: ignore[union-attr]
    assert rec_deps == {ml_assets.INTERACTIONS_KEY, ml_assets.EVENTS_KEY}

    with dg.instance_for_test() as instance:
        result = _materialize([*ml_assets.TRAINING_ASSETS, *ml_assets.SCORING_ASSETS], data_dir, instance)
        assert result.success
        meta = result.asset_materializations_for_node("ml__recommender_model")[0].metadata
        assert meta["registered_version"].value == "1" and meta["promoted"].value is True
        assert meta["metric/als_vs_popularity.ndcg_at_10_margin"].value > 0
        assert meta["registered_model_kind"].value == "als" and "validation" in meta
        assert (
            meta["metric/validation.als.ndcg_at_10"].value
            > meta["metric/validation.popularity.ndcg_at_10"].value
        )
        churn_meta = result.asset_materializations_for_node("ml__churn_model")[0].metadata
        assert churn_meta["metric/lightgbm.roc_auc"].value > 0.75
        family = churn_meta["registered_family"].value
        assert churn_meta["candidate_score"].value == churn_meta[f"metric/{family}.roc_auc"].value

        con = duckdb.connect(str(db), read_only=True)
        try:
            recs = pl.from_arrow(con.sql("select * from scores.user_recommendations").to_arrow_table())
            risk = pl.from_arrow(con.sql("select * from scores.churn_risk").to_arrow_table())
            segs = pl.from_arrow(con.sql("select * from scores.user_segments").to_arrow_table())
            ab = pl.from_arrow(con.sql("select * from scores.experiment_readout").to_arrow_table())
        finally:
            con.close()
        assert isinstance(recs, pl.DataFrame) and isinstance(risk, pl.DataFrame)
        assert isinstance(segs, pl.DataFrame) and isinstance(ab, pl.DataFrame)
        users = fixture["dim_users"]
        assert (
            recs["user_id"].n_unique() == users.height and recs.group_by("user_id").len()["len"].max() == 10
        )
        assert set(recs["model_version"]) == {"1"}
        no_consent = users.filter(~pl.col("latest_consent_personalization"))["user_id"]
        assert set(recs.filter(pl.col("user_id").is_in(no_consent.implode()))["source"]) == {"trending"}
        assert risk["churn_probability"].is_between(0, 1).all() and set(risk["risk_band"]) <= {
            "low",
            "medium",
            "high",
        }
        assert segs["segment_label"].null_count() == 0
        assert set(ab["unit"]) == {"visitor", "checkout_session"}
        treat = ab.filter((pl.col("variant") == "treatment") & (pl.col("unit") == "visitor")).row(
            0, named=True
        )
        assert treat["conversion_significant"] and treat["chi2_p_value"] < 0.01

        checks = {(c.asset_key, c.check_name): c for c in result.get_asset_check_evaluations()}
        drift_check = checks[(ml_assets.CHURN_SCORES_KEY, ml_assets.DRIFT_CHECK)]
        assert drift_check.severity == dg.AssetCheckSeverity.WARN
        event = instance.get_latest_materialization_event(ml_assets.CHURN_SCORES_KEY)
        assert event is not None
        request = ml_assets.drift_run_request(instance, event)
        assert isinstance(request, dg.SkipReason) == drift_check.passed

        # the population shifts (everyone far less active): the WARN check fires, retraining is requested
        con = duckdb.connect(str(db))
        try:
            con.execute(
                "update intermediate.int_clickstream__events_stitched set occurred_at = occurred_at - interval 40 day "
                "where hash(stitched_user_id) % 3 = 0"
            )
        finally:
            con.close()
        rerun = _materialize([ml_assets.churn_risk], data_dir, instance)
        check = next(iter(rerun.get_asset_check_evaluations()))
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        assert check.metadata["max_psi"].value > PSI_THRESHOLD
        event = instance.get_latest_materialization_event(ml_assets.CHURN_SCORES_KEY)
        assert event is not None
        request = ml_assets.drift_run_request(instance, event)
        assert isinstance(request, dg.RunRequest) and request.tags[ml_assets.DRIFT_TAG] == "drift"

        # a run that was itself drift-triggered does not request another one (no loop)
        looped = _materialize([ml_assets.churn_risk], data_dir, instance, tags={ml_assets.DRIFT_TAG: "drift"})
        assert looped.success
        event = instance.get_latest_materialization_event(ml_assets.CHURN_SCORES_KEY)
        assert isinstance(ml_assets.drift_run_request(instance, event), dg.SkipReason)  # type: ignore[arg-type]


def test_ml_definitions_load() -> None:
    defs = dg.Definitions.merge(ml_assets.defs, dg.Definitions(resources=default_resources()))
    repo = defs.get_repository_def()
    assert repo.get_job("ml_training_job") is not None
    assert {s.name for s in defs.schedules} == {"ml_weekly_retraining"}  # type: ignore[union-attr]
    assert {s.name for s in defs.sensors} == {"ml_churn_drift_retraining", "ml_segment_drift_retraining"}  # type: ignore[union-attr]
