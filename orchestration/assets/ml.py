"""ML assets: train + register + gate models in MLflow, then write scores for BI (group ``ml``).

Graph (all keys below; inputs are dbt assets of the private build file):

* ``ml/recommender_model``  <- intermediate/int_clickstream__events_stitched, marts/mart_interaction_matrix
* ``ml/churn_model``, ``ml/segmentation_model`` <- intermediate/int_clickstream__events_stitched, marts/dim_users
* ``scores/user_recommendations`` <- ml/recommender_model, marts/dim_users, marts/mart_category_preferences,
  marts/mart_interaction_matrix, intermediate/int_clickstream__events_stitched (users' current histories)
* ``scores/churn_risk`` <- ml/churn_model (+ drift check ``feature_drift``)
* ``scores/user_segments`` <- ml/segmentation_model (+ drift check ``feature_drift``)
* ``scores/experiment_readout`` <- marts/fct_sessions

Training assets log to MLflow and register a new version each run; their metadata shows the
metrics, the version and whether the gate promoted it. Scoring assets load ``@champion`` only and
write schema ``scores`` of the build file (published with ``marts``). Every asset that opens the
build file runs in the DuckDB pool (readers block writers too).

Retraining: weekly (:data:`ml_weekly_retraining`, Mondays 03:00 UTC), on demand from the UI
(materialise the ``ml`` group or launch ``ml_training_job``), and when drift is detected: the
scoring asset's WARN check ``feature_drift`` fails above PSI 0.25 (:data:`ml.drift.PSI_THRESHOLD`) and records ``drift_detected`` in
its metadata, and the sensors ``ml_churn_drift_retraining`` / ``ml_segment_drift_retraining``
(:func:`drift_run_request`) turn that into one ``ml_training_job`` run
(tagged ``beacon/trigger=drift``; materialisations from such runs never re-trigger, so a
persistent shift cannot loop).
"""

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import polars as pl

from lakehouse import storage
from lakehouse.privacy.consent import withdrawn_personalisation
from lakehouse.publish import build_db_path
from ml import sources
from ml.behaviour import DRIFT_FEATURES, SEGMENT_FEATURES, behaviour_features, latest_event_time
from ml.catalogue import Catalogue
from ml.drift import PSI_THRESHOLD
from ml.model_names import CHURN_MODEL, RECOMMENDER_MODEL, SEGMENT_MODEL
from ml.tracking_config import TrackingConfig
from orchestration.resources import DUCKDB_POOL, LakehouseResource

# Only light modules are imported above: the code location is loaded by every Dagster process
# (webserver, daemon, each run), and MLflow, scikit-learn, LightGBM, implicit, SciPy and
# matplotlib together take seconds to import. The assets import ml.training, ml.scoring,
# ml.recommend and ml.experiments when they run (tests/ml/test_ml_import_is_light.py).
if TYPE_CHECKING:
    from ml.training import TrainingOutcome

GROUP = "ml"
OWNERS = ["team:data-science"]
EVENTS_KEY = dg.AssetKey(["intermediate", "int_clickstream__events_stitched"])
INTERACTIONS_KEY = dg.AssetKey(["marts", "mart_interaction_matrix"])
USERS_KEY = dg.AssetKey(["marts", "dim_users"])
PREFERENCES_KEY = dg.AssetKey(["marts", "mart_category_preferences"])
SESSIONS_KEY = dg.AssetKey(["marts", "fct_sessions"])
RECOMMENDER_KEY = dg.AssetKey(["ml", "recommender_model"])
CHURN_KEY = dg.AssetKey(["ml", "churn_model"])
SEGMENTS_KEY = dg.AssetKey(["ml", "segmentation_model"])
RECS_SCORES_KEY = dg.AssetKey(["scores", "user_recommendations"])
CHURN_SCORES_KEY = dg.AssetKey(["scores", "churn_risk"])
SEGMENT_SCORES_KEY = dg.AssetKey(["scores", "user_segments"])
READOUT_KEY = dg.AssetKey(["scores", "experiment_readout"])
DRIFT_CHECK = "feature_drift"
DRIFT_TAG = "beacon/trigger"


class RecommenderTrainingConfig(dg.Config):
    #: The last ``test_days`` are the test period (reported metrics, the gate); the
    #: ``validation_days`` before them decide which model is registered.
    test_days: int = 7
    validation_days: int = 7
    k: int = 10
    register_model: str = "best"  # best on validation, or popularity / item_cosine / als
    factors: int = 8
    regularization: float = 1.0
    alpha: float = 1.0
    iterations: int = 15
    num_threads: int = 2


class ChurnTrainingConfig(dg.Config):
    horizon_days: int = 30
    lookback_days: int = 90


class SegmentationConfig(dg.Config):
    lookback_days: int = 90
    k_min: int = 2
    k_max: int = 8


class RecommendationScoringConfig(dg.Config):
    k: int = 10
    #: Give users WITHOUT personalisation consent trending items in their favourite categories
    #: (derived from their behaviour) instead of trending overall. Off: their profile is not used.
    category_fallback_without_consent: bool = False


class BehaviourScoringConfig(dg.Config):
    lookback_days: int = 90


def _db(lakehouse: LakehouseResource) -> Path:
    return build_db_path(lakehouse.paths.build)


def _tracking(lakehouse: LakehouseResource) -> TrackingConfig:
    return TrackingConfig.default(lakehouse.paths)


def data_version(lakehouse: LakehouseResource, db: Path) -> dict[str, Any]:
    """Build-file snapshot info plus the bronze clickstream Delta version (when the table exists)."""
    info: dict[str, Any] = sources.snapshot_info(db)
    table = lakehouse.paths.table("bronze", "clickstream_events")
    version = storage.table_version(table)
    if version is not None:
        info["delta.bronze.clickstream_events"] = version
    return info


def outcome_metadata(outcome: "TrainingOutcome", tracking: TrackingConfig) -> dict[str, Any]:
    """What the asset page shows: version, promotion, both gate scores and every metric."""
    d = outcome.decision
    return {
        "registered_model": outcome.model_name,
        "registered_version": outcome.version,
        "promoted": d.promoted,
        "alias": d.alias,
        "decision": d.describe(),
        "gate_metric": d.metric,
        "candidate_score": d.candidate_score,
        "champion_score_before": dg.MetadataValue.float(d.champion_score)
        if d.champion_score is not None
        else "none",
        "previous_champion": d.previous_champion or "none",
        "mlflow_run_id": outcome.run_id,
        "mlflow_tracking_uri": tracking.tracking_uri,
        "metrics": dg.MetadataValue.json({k: round(v, 6) for k, v in outcome.metrics.items()}),
        **{f"metric/{k}": float(v) for k, v in outcome.metrics.items()},
    }


def markdown_table(frame: pl.DataFrame, digits: int = 4) -> dg.MetadataValue:
    """A small frame (a few rows: models, features, segments) as a Markdown table for the UI."""
    rounded = frame.with_columns(pl.selectors.float().round(digits)).cast(pl.String).fill_null("")
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * frame.width]
    lines += ["| " + " | ".join(row) + " |" for row in rounded.iter_rows()]
    return dg.MetadataValue.md("\n".join(lines))


# ---------------------------------------------------------------------------------- training
@dg.asset(
    key=RECOMMENDER_KEY,
    deps=[EVENTS_KEY, INTERACTIONS_KEY],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"mlflow", "python", "implicit"},
    pool=DUCKDB_POOL,
    description="Popularity, item-cosine and ALS recommenders evaluated on a train/validation/test temporal "
    "split; the best on validation is registered as beacon_recommender (item-side state only) and becomes "
    "champion only if it beats the current one on the same test days.",
)
def recommender_model(
    context: dg.AssetExecutionContext, config: RecommenderTrainingConfig, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    from ml.recommend import default_models
    from ml.training import train_recommender

    db = _db(lakehouse)
    _, interactions = sources.drop_withdrawn(
        None, sources.read_interactions(db), withdrawn_personalisation(lakehouse.paths)
    )
    catalogue = Catalogue.from_table(sources.read_catalogue(db))
    tracking = _tracking(lakehouse)
    outcome = train_recommender(
        interactions,
        catalogue=catalogue,
        test_days=config.test_days,
        validation_days=config.validation_days,
        k=config.k,
        register=config.register_model,
        models=default_models(
            catalogue,
            factors=config.factors,
            regularization=config.regularization,
            alpha=config.alpha,
            iterations=config.iterations,
            num_threads=config.num_threads,
        ),
        data_version=data_version(lakehouse, db),
        config=tracking,
    )
    context.log.info(outcome.decision.describe())
    meta = outcome_metadata(outcome, tracking)
    evaluation = outcome.details["evaluation"]
    meta["evaluation"] = markdown_table(evaluation.metrics)  # test days
    if evaluation.validation is not None:
        meta["validation"] = markdown_table(
            evaluation.validation.select("model", "selected", f"ndcg_at_{config.k}")
        )
    meta["registered_model_kind"] = outcome.details["registered_model"]
    meta["interactions"] = interactions.height
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    key=CHURN_KEY,
    deps=[EVENTS_KEY, USERS_KEY],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"mlflow", "python", "lightgbm"},
    pool=DUCKDB_POOL,
    description="30-day churn classifier (LightGBM vs logistic-regression baseline), registered as "
    "beacon_churn; champion moves only when ROC-AUC improves on the same held-out users.",
)
def churn_model(
    context: dg.AssetExecutionContext, config: ChurnTrainingConfig, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    from ml.training import train_churn_model

    db = _db(lakehouse)
    events = sources.read_events(db, window_days=config.lookback_days + config.horizon_days + 1)
    tracking = _tracking(lakehouse)
    outcome = train_churn_model(
        events,
        horizon_days=config.horizon_days,
        lookback_days=config.lookback_days,
        data_version=data_version(lakehouse, db),
        config=tracking,
    )
    context.log.info(outcome.decision.describe())
    meta = outcome_metadata(outcome, tracking)
    meta["cutoff"] = outcome.details["cutoff"].isoformat()
    meta["registered_family"] = outcome.details["registered_family"]
    meta["feature_importance"] = markdown_table(outcome.details["training"].importances)
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    key=SEGMENTS_KEY,
    deps=[EVENTS_KEY, USERS_KEY],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"mlflow", "python", "scikitlearn"},
    pool=DUCKDB_POOL,
    description="K-means customer segments on standardised behaviour, k by silhouette; registered as beacon_segments.",
)
def segmentation_model(
    context: dg.AssetExecutionContext, config: SegmentationConfig, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    from ml.training import train_segmentation

    db = _db(lakehouse)
    events = sources.read_events(db, window_days=config.lookback_days + 1)
    tracking = _tracking(lakehouse)
    outcome = train_segmentation(
        events,
        lookback_days=config.lookback_days,
        k_range=range(config.k_min, config.k_max + 1),
        data_version=data_version(lakehouse, db),
        config=tracking,
    )
    context.log.info(outcome.decision.describe())
    meta = outcome_metadata(outcome, tracking)
    seg = outcome.details["segmentation"]
    meta["segments"] = markdown_table(seg.profiles.select("segment", "label", "size", "share"))
    return dg.MaterializeResult(metadata=meta)


# ----------------------------------------------------------------------------------- scoring
@dg.asset(
    key=RECS_SCORES_KEY,
    deps=[RECOMMENDER_KEY, USERS_KEY, PREFERENCES_KEY, INTERACTIONS_KEY, EVENTS_KEY],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"mlflow", "python", "duckdb"},
    pool=DUCKDB_POOL,
    description="Top-10 recommendations per known user from beacon_recommender@champion (fallbacks for "
    "cold-start users and users without personalisation consent), in scores.user_recommendations.",
)
def user_recommendations(
    context: dg.AssetExecutionContext, config: RecommendationScoringConfig, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    from ml.scoring import load_champion, recommendation_scores, write_scores

    db = _db(lakehouse)
    champion = load_champion(RECOMMENDER_MODEL, config=_tracking(lakehouse))
    users, interactions = sources.drop_withdrawn(
        sources.read_users(db), sources.read_interactions(db), withdrawn_personalisation(lakehouse.paths)
    )
    assert users is not None
    prefs = sources.read_category_preferences(db)
    if not config.category_fallback_without_consent:
        prefs = prefs.join(users.filter(pl.col("personalise")).select("user_id"), on="user_id", how="semi")
    recs = recommendation_scores(
        champion,
        users,
        interactions,
        k=config.k,
        recently_bought=sources.read_non_rebuyable_purchases(db),
        preferred_categories=prefs,
    )
    rows = write_scores(db, "user_recommendations", recs)
    by_source = recs.group_by("source").agg(pl.len()).sort("source")
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            "users": recs.get_column("user_id").n_unique(),
            "model_version": champion.version,
            "by_source": dg.MetadataValue.json(dict(by_source.iter_rows())),
        }
    )


def _drift_result(psi: pl.DataFrame) -> tuple[dg.AssetCheckResult, dict[str, Any]]:
    worst = psi.row(0, named=True) if psi.height else {"feature": "none", "psi": 0.0}
    drifted = psi.filter(pl.col("psi") > PSI_THRESHOLD).get_column("feature").to_list()
    table = {r["feature"]: round(r["psi"], 4) for r in psi.iter_rows(named=True)}
    check = dg.AssetCheckResult(
        check_name=DRIFT_CHECK,
        passed=not drifted,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"PSI above {PSI_THRESHOLD} for {', '.join(drifted)}: retraining requested"
            if drifted
            else f"all features PSI <= {PSI_THRESHOLD}"
        ),
        metadata={
            "max_psi": float(worst["psi"]),
            "worst_feature": str(worst["feature"]),
            "psi": dg.MetadataValue.json(table),
            "threshold": PSI_THRESHOLD,
        },
    )
    return check, {
        "drift_detected": bool(drifted),
        "max_psi": float(worst["psi"]),
        "drifted_features": ",".join(drifted),
    }


def _current_features(lakehouse: LakehouseResource, lookback_days: int) -> tuple[pl.DataFrame, dt.datetime]:
    events = sources.read_events(_db(lakehouse), window_days=lookback_days + 1)
    as_of = latest_event_time(events)
    return behaviour_features(events, as_of, lookback_days), as_of


def _score_behaviour(
    lakehouse: LakehouseResource,
    lookback_days: int,
    *,
    model: str,
    table: str,
    drift_features: Sequence[str],
    score: Callable[[Any, pl.DataFrame, dt.datetime], pl.DataFrame],
    summary: tuple[str, str],
) -> dg.MaterializeResult:
    """Score current behaviour features with ``model@champion`` into ``scores.<table>``.

    Shared by the churn and segment scores: same features, same champion loading, same drift
    check (PSI against the champion's training features); ``summary`` names the metadata entry
    and the column whose value counts it shows.
    """
    from ml.scoring import drift, load_champion, write_scores

    champion = load_champion(model, flavor="sklearn", config=_tracking(lakehouse))
    features, as_of = _current_features(lakehouse, lookback_days)
    scores = score(champion, features, as_of)
    rows = write_scores(_db(lakehouse), table, scores)
    check, drift_meta = _drift_result(drift(champion, features, drift_features))
    name, column = summary
    counts = scores.group_by(column).agg(pl.len()).sort(column)
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            "model_version": champion.version,
            "as_of": as_of.isoformat(),
            name: dg.MetadataValue.json(dict(counts.iter_rows())),
            **drift_meta,
        },
        check_results=[check],
    )


@dg.asset(
    key=CHURN_SCORES_KEY,
    deps=[CHURN_KEY, EVENTS_KEY],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"mlflow", "python", "duckdb"},
    pool=DUCKDB_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            DRIFT_CHECK, asset=CHURN_SCORES_KEY, description="PSI of churn features vs training"
        )
    ],
    description="Churn probability per recently active user from beacon_churn@champion, in scores.churn_risk.",
)
def churn_risk(config: BehaviourScoringConfig, lakehouse: LakehouseResource) -> dg.MaterializeResult:
    from ml.scoring import churn_scores

    return _score_behaviour(
        lakehouse,
        config.lookback_days,
        model=CHURN_MODEL,
        table="churn_risk",
        drift_features=DRIFT_FEATURES,
        score=churn_scores,
        summary=("risk_bands", "risk_band"),
    )


@dg.asset(
    key=SEGMENT_SCORES_KEY,
    deps=[SEGMENTS_KEY, EVENTS_KEY],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"mlflow", "python", "duckdb"},
    pool=DUCKDB_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            DRIFT_CHECK, asset=SEGMENT_SCORES_KEY, description="PSI of segment features vs training"
        )
    ],
    description="Segment and readable segment label per recently active user (beacon_segments@champion).",
)
def user_segments(config: BehaviourScoringConfig, lakehouse: LakehouseResource) -> dg.MaterializeResult:
    from ml.scoring import champion_profiles, segment_scores

    return _score_behaviour(
        lakehouse,
        config.lookback_days,
        model=SEGMENT_MODEL,
        table="user_segments",
        drift_features=SEGMENT_FEATURES,
        score=lambda champion, features, _as_of: segment_scores(
            champion, features, champion_profiles(champion)
        ),
        summary=("segments", "segment_label"),
    )


@dg.asset(
    key=READOUT_KEY,
    deps=[SESSIONS_KEY],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "scipy", "duckdb"},
    pool=DUCKDB_POOL,
    description="A/B readout per experiment and variant: conversion (chi-square), revenue per visitor "
    "(Welch), 95% CIs and the sample size needed for the observed effect; scores.experiment_readout.",
)
def ab_experiment_readout(lakehouse: LakehouseResource) -> dg.MaterializeResult:
    from ml.experiments import readout
    from ml.scoring import write_scores

    db = _db(lakehouse)
    table = pl.concat(
        [
            readout(sources.read_experiment_users(db)).with_columns(unit=pl.lit("visitor")),
            readout(sources.read_experiment_checkout_sessions(db)).with_columns(
                unit=pl.lit("checkout_session")
            ),
        ]
    ).select("unit", pl.exclude("unit"))
    rows = write_scores(db, "experiment_readout", table)
    significant = table.filter(pl.col("conversion_significant")).select("experiment_id", "variant", "unit")
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            "experiments": table.get_column("experiment_id").n_unique(),
            "significant_conversion_effects": dg.MetadataValue.json(
                [f"{e}/{v} per {u}" for e, v, u in significant.iter_rows()]
            ),
            "readout": markdown_table(
                table.select(
                    "unit",
                    "experiment_id",
                    "variant",
                    "users",
                    "conversion_rate",
                    "chi2_p_value",
                    "welch_p_value",
                    "required_users_per_arm",
                )
            ),
        }
    )


TRAINING_ASSETS = [recommender_model, churn_model, segmentation_model]
SCORING_ASSETS = [user_recommendations, churn_risk, user_segments, ab_experiment_readout]

ml_training_job = dg.define_asset_job(
    "ml_training_job",
    selection=dg.AssetSelection.groups(GROUP),
    description="Retrain every model (MLflow, gated promotion) and re-score with the champions.",
)
ml_weekly_retraining = dg.ScheduleDefinition(
    name="ml_weekly_retraining",
    job=ml_training_job,
    cron_schedule="0 3 * * 1",
    execution_timezone="UTC",
    description="Weekly retraining, Mondays 03:00 UTC (after the nightly marts).",
)


def _drift_sensor(asset_key: dg.AssetKey, name: str) -> dg.SensorDefinition:
    @dg.asset_sensor(
        asset_key=asset_key,
        job=ml_training_job,
        name=name,
        minimum_interval_seconds=300,
        description=f"Requests ml_training_job when {asset_key.to_user_string()} reports feature drift.",
    )
    def _sensor(
        context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry
    ) -> dg.RunRequest | dg.SkipReason:
        return drift_run_request(context.instance, asset_event)

    return _sensor


def drift_run_request(
    instance: dg.DagsterInstance, asset_event: dg.EventLogEntry
) -> dg.RunRequest | dg.SkipReason:
    """One retraining run per drifted materialisation, unless that run was itself drift-triggered."""
    materialization = asset_event.asset_materialization
    if materialization is None:
        return dg.SkipReason("not a materialisation")
    flag = materialization.metadata.get("drift_detected")
    if flag is None or not flag.value:
        return dg.SkipReason("no drift")
    run = instance.get_run_by_id(asset_event.run_id)
    if run is not None and run.tags.get(DRIFT_TAG) == "drift":
        return dg.SkipReason("drift persists after a drift-triggered retraining: not looping")
    return dg.RunRequest(run_key=f"drift-{asset_event.run_id}", tags={DRIFT_TAG: "drift"})


churn_drift_sensor = _drift_sensor(CHURN_SCORES_KEY, "ml_churn_drift_retraining")
segment_drift_sensor = _drift_sensor(SEGMENT_SCORES_KEY, "ml_segment_drift_retraining")

defs = dg.Definitions(
    assets=[*TRAINING_ASSETS, *SCORING_ASSETS],
    asset_checks=[],  # the drift checks are declared on the scoring assets (check_specs)
    jobs=[ml_training_job],
    schedules=[ml_weekly_retraining],
    sensors=[churn_drift_sensor, segment_drift_sensor],
)
