"""Train and evaluate recommenders on ANY interactions table.

The entry point for notebooks and other projects::

    import polars as pl
    from ml.recommend import evaluate_models

    interactions = pl.read_parquet("interactions.parquet")  # user, item, weight, timestamp
    report = evaluate_models(
        interactions, holdout_days=7, k=10,
        columns={"user": "customer", "item": "sku", "weight": "qty", "timestamp": "ts"},
    )
    print(report.metrics)          # one row per model: precision/recall/NDCG/MAP@10, coverage, bias
    recs = report.models["als"].recommend(["c-1", "c-2"], k=10)

Every model is fitted on the same temporal split and scored on the same held-out users in one
call, which is what makes the numbers comparable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ml.catalogue import Catalogue
from ml.interactions import ITEM, USER, Split, normalise_interactions, temporal_split
from ml.ranking_metrics import precision_curve, ranking_metrics
from ml.recommenders import (
    MODELS,
    ALSRecommender,
    ItemCosineRecommender,
    PopularityRecommender,
    Recommender,
)

__all__ = [
    "ALSRecommender",
    "EvalSet",
    "Evaluation",
    "ItemCosineRecommender",
    "PopularityRecommender",
    "Recommender",
    "evaluate_models",
    "evaluation_set",
    "score_recommendations",
]


@dataclass(frozen=True)
class EvalSet:
    """Held-out truth for one split: who is evaluated and what they went on to interact with."""

    split: Split
    users: pl.Series
    relevant: pl.DataFrame  # user_id, item_id
    popularity: pl.DataFrame  # item_id, popularity_pct (from the training part)
    n_items: int
    k: int


@dataclass
class Evaluation:
    """Result of :func:`evaluate_models`: metrics per model, the fitted models and the split."""

    metrics: pl.DataFrame
    models: dict[str, Recommender]
    eval_set: EvalSet
    curves: dict[str, list[float]] = field(default_factory=dict)

    def metric(self, model: str, name: str) -> float:
        return float(self.metrics.filter(pl.col("model") == model).get_column(name).item())

    def margin(self, name: str = "ndcg_at_10", model: str = "als", baseline: str = "popularity") -> float:
        """How much ``model`` beats ``baseline`` on ``name`` (absolute difference)."""
        return self.metric(model, name) - self.metric(baseline, name)


def evaluation_set(split: Split, fitted: Recommender, k: int, exclude: str = "non_rebuyable") -> EvalSet:
    """Warm users of the test period and their relevant items.

    Relevant = items they interacted with after the cutoff that the model could recommend: known
    at training time and not excluded (a kettle they already bought does not count as a hit).
    """
    known_users = pl.DataFrame({USER: fitted.data_.users})
    known_items = pl.DataFrame({ITEM: fitted.data_.items})
    relevant = (
        split.test.select(USER, ITEM)
        .unique()
        .join(known_users, on=USER, how="semi")
        .join(known_items, on=ITEM, how="semi")
        .join(fitted._excluded_pairs(exclude), on=[USER, ITEM], how="anti")  # type: ignore[arg-type]
        .sort(USER, ITEM)
    )
    return EvalSet(
        split=split,
        users=relevant.get_column(USER).unique().sort(),
        relevant=relevant,
        popularity=fitted.popularity_.select(ITEM, "popularity_pct"),
        n_items=len(fitted.data_.items),
        k=k,
    )


def score_recommendations(recs: pl.DataFrame, eval_set: EvalSet) -> dict[str, float]:
    """Ranking metrics of a recommendation frame on an evaluation set (used to re-score champions)."""
    return ranking_metrics(recs, eval_set.relevant, eval_set.k, eval_set.popularity, eval_set.n_items)


def default_models(catalogue: Catalogue | None = None, **als_params: Any) -> dict[str, Recommender]:
    """Popularity, item-cosine and ALS with Beacon's defaults."""
    return {
        "popularity": PopularityRecommender(catalogue=catalogue),
        "item_cosine": ItemCosineRecommender(catalogue=catalogue),
        "als": ALSRecommender(catalogue=catalogue, **als_params),
    }


def evaluate_models(
    interactions: Any,
    *,
    holdout_days: int = 7,
    k: int = 10,
    models: Mapping[str, Recommender] | None = None,
    catalogue: Catalogue | None = None,
    columns: Mapping[str, str] | None = None,
    on_model: Callable[[str, Recommender], None] | None = None,
) -> Evaluation:
    """Fit every model on the data before the last ``holdout_days`` days and score them all on the rest.

    ``interactions``: polars/pandas/Arrow with user, item, weight (optional) and timestamp columns
    (rename with ``columns={"user": ..., "item": ..., "weight": ..., "timestamp": ..., "purchased": ...}``).
    ``models``: name -> unfitted recommender (default: :func:`default_models`).
    """
    cols = dict(columns or {})
    inter = normalise_interactions(
        interactions,
        **{key: cols[key] for key in ("user", "item", "weight", "timestamp", "purchased") if key in cols},
    )
    split = temporal_split(inter, holdout_days=holdout_days)
    candidates = dict(models) if models is not None else default_models(catalogue)
    fitted: dict[str, Recommender] = {}
    for name, model in candidates.items():
        fitted[name] = model.fit(split.train)
        if on_model is not None:
            on_model(name, fitted[name])
    first = next(iter(fitted.values()))
    eval_set = evaluation_set(split, first, k)
    rows, curves = [], {}
    for name, model in fitted.items():
        recs = model.recommend(eval_set.users, k=k)
        rows.append({"model": name, **score_recommendations(recs, eval_set)})
        curves[name] = precision_curve(recs, eval_set.relevant, k)
    return Evaluation(metrics=pl.DataFrame(rows), models=fitted, eval_set=eval_set, curves=curves)


def model_class(name: str) -> type[Recommender]:
    """The recommender class registered under ``name`` (popularity, item_cosine, als)."""
    return MODELS[name]
