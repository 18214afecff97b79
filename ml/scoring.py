"""Scores for BI: champion models applied to current data, written to schema ``scores``.

Scoring ALWAYS loads ``models:/<name>@champion`` (never "the latest version"), so what BI sees
is what passed the gate, and each row names the model version that produced it. Tables are
replaced atomically (``CREATE OR REPLACE``) in the build DuckDB file; publishing copies schema
``scores`` beside ``marts`` into the BI-facing file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import mlflow
import numpy as np
import pandas as pd
import polars as pl

from ml.behaviour import DRIFT_FEATURES, FEATURES
from ml.drift import psi_table
from ml.interactions import ITEM, USER
from ml.segments import segment_matrix
from ml.tracking import CHAMPION, TrackingConfig, activate
from ml.training import REFERENCE_FEATURES

SCHEMA = "scores"
#: Churn probability bands shown in dashboards.
RISK_BANDS = ((0.7, "high"), (0.4, "medium"), (0.0, "low"))


@dataclass(frozen=True)
class Champion:
    """A loaded champion and where it came from."""

    model_name: str
    version: str
    run_id: str
    model: Any


def load_champion(model_name: str, flavor: str = "pyfunc", config: TrackingConfig | None = None) -> Champion:
    """Load ``models:/<model_name>@champion`` (``flavor``: pyfunc or sklearn)."""
    client = activate(config or TrackingConfig.default())
    mv = client.get_model_version_by_alias(model_name, CHAMPION)
    uri = f"models:/{model_name}@{CHAMPION}"
    model = mlflow.sklearn.load_model(uri) if flavor == "sklearn" else mlflow.pyfunc.load_model(uri)
    return Champion(model_name=model_name, version=str(mv.version), run_id=str(mv.run_id), model=model)


def _stamp(frame: pl.DataFrame, champion: Champion, scored_at: dt.datetime) -> pl.DataFrame:
    return frame.with_columns(
        model_name=pl.lit(champion.model_name),
        model_version=pl.lit(champion.version),
        scored_at=pl.lit(scored_at.replace(tzinfo=None), dtype=pl.Datetime("us")),
    )


def recommendation_scores(
    champion: Champion,
    users: pl.DataFrame,
    history: pl.DataFrame,
    k: int = 10,
    recently_bought: pl.DataFrame | None = None,
    preferred_categories: pl.DataFrame | None = None,
    scored_at: dt.datetime | None = None,
) -> pl.DataFrame:
    """Top-``k`` per user: ``user_id, item_id, rank, score, source, model_name, model_version, scored_at``.

    ``users``: ``user_id`` and optionally ``personalise`` (consent). ``history``: current
    interactions (``user_id, item_id, weight, occurred_at, purchased``) of users who allow
    personalisation: the registered model keeps no user data, so each user's scores are computed
    from this (ALS solves the user's factors from it), which also makes them reflect behaviour
    since training. ``recently_bought`` (``user_id, item_id``): non-rebuyable purchases, also of
    users outside ``history``; they are filtered out here (the model asks for extra candidates
    to make up for them). ``preferred_categories`` (``user_id, category``) steer the fallback for
    users the model does not personalise. The champion's pyfunc is unwrapped to reach these
    options; it is still the ``@champion`` version that was loaded.
    """
    recommender = champion.model.unwrap_python_model().recommender
    extra = k if recently_bought is not None and recently_bought.height else 0
    recs = recommender.recommend(
        users.get_column(USER),
        k=k + extra,
        history=history,
        personalise=users.get_column("personalise") if "personalise" in users.columns else None,
        preferred_categories=preferred_categories,
    )
    if extra:
        assert recently_bought is not None
        recs = recs.join(recently_bought.select(USER, ITEM), on=[USER, ITEM], how="anti")
    recs = (
        recs.sort(USER, "rank")
        .with_columns(rank=pl.int_range(1, pl.len() + 1).over(USER).cast(pl.Int32))
        .filter(pl.col("rank") <= k)
    )
    return _stamp(recs, champion, scored_at or dt.datetime.now(dt.UTC))


def churn_scores(
    champion: Champion, features: pl.DataFrame, as_of: dt.datetime, scored_at: dt.datetime | None = None
) -> pl.DataFrame:
    """``user_id, churn_probability, risk_band, as_of`` + model stamp, one row per user with features."""
    proba = champion.model.predict_proba(features.select(FEATURES).to_pandas())[:, 1]
    band = pl.when(pl.col("churn_probability") >= RISK_BANDS[0][0]).then(pl.lit(RISK_BANDS[0][1]))
    band = band.when(pl.col("churn_probability") >= RISK_BANDS[1][0]).then(pl.lit(RISK_BANDS[1][1]))
    out = features.select(USER).with_columns(
        churn_probability=pl.Series(proba, dtype=pl.Float64),
        as_of=pl.lit(as_of.replace(tzinfo=None), dtype=pl.Datetime("us")),
    )
    out = out.with_columns(risk_band=band.otherwise(pl.lit(RISK_BANDS[2][1])))
    return _stamp(out, champion, scored_at or dt.datetime.now(dt.UTC))


def segment_scores(
    champion: Champion,
    features: pl.DataFrame,
    profiles: pl.DataFrame | None = None,
    scored_at: dt.datetime | None = None,
) -> pl.DataFrame:
    """``user_id, segment`` (+ ``segment_label`` when the champion's profiles are given) + model stamp."""
    segment = np.asarray(champion.model.predict(segment_matrix(features)), dtype=np.int32)
    out = features.select(USER).with_columns(segment=pl.Series(segment))
    if profiles is not None:
        out = out.join(
            profiles.select("segment", segment_label="label"), on="segment", how="left", maintain_order="left"
        )
    return _stamp(out, champion, scored_at or dt.datetime.now(dt.UTC))


def champion_profiles(champion: Champion) -> pl.DataFrame:
    """The segment profiles (labels) logged with the champion segmentation run."""
    path = mlflow.artifacts.download_artifacts(
        run_id=champion.run_id, artifact_path="evaluation/segment_profiles.csv"
    )
    return pl.read_csv(path, schema_overrides={"segment": pl.Int32})


def reference_features(champion: Champion) -> pl.DataFrame:
    """The training-feature sample logged with the champion's run (drift reference)."""
    path = mlflow.artifacts.download_artifacts(run_id=champion.run_id, artifact_path=REFERENCE_FEATURES)
    return pl.read_parquet(path)


def drift(
    champion: Champion, current: pl.DataFrame, features: tuple[str, ...] = DRIFT_FEATURES
) -> pl.DataFrame:
    """PSI per feature between the champion's training population and ``current``, worst first."""
    return psi_table(reference_features(champion), current, features)


def write_scores(
    database: str | Path, table: str, frame: pl.DataFrame | pd.DataFrame, schema: str = SCHEMA
) -> int:
    """Replace ``<schema>.<table>`` in the DuckDB file with ``frame`` (one transaction); returns rows."""
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    data = frame.to_arrow() if isinstance(frame, pl.DataFrame) else pl.from_pandas(frame).to_arrow()
    con = duckdb.connect(str(database))
    try:
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        con.register("_frame", data)
        con.execute("BEGIN TRANSACTION")
        con.execute(f'CREATE OR REPLACE TABLE "{schema}"."{table}" AS SELECT * FROM _frame')
        con.execute("COMMIT")
        rows = con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()
    finally:
        con.close()
    return int(rows[0]) if rows else 0
