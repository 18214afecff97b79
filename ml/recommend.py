"""Train and evaluate recommenders on ANY interactions table.

The entry point for notebooks and other projects::

    import polars as pl
    from ml.recommend import evaluate_models

    interactions = pl.read_parquet("interactions.parquet")  # user, item, weight, timestamp
    report = evaluate_models(
        interactions, test_days=7, validation_days=7, k=10,
        columns={"user": "customer", "item": "sku", "weight": "qty", "timestamp": "ts"},
    )
    print(report.metrics)          # one row per model: precision/recall/NDCG/MAP@10, coverage, bias
    recs = report.models["als"].recommend(["c-1", "c-2"], k=10)

Protocol (three-way temporal split, :func:`ml.interactions.temporal_split`): any choice
(an ALS grid via ``als_grid``) is made by fitting on ``train`` and scoring on ``validation``;
then every model is refitted on ``train + validation`` with its choices fixed and scored ONCE on
the last ``test_days``. Every model sees the same split and the same test users in one call,
which is what makes the numbers comparable; the test figures are the ones to report.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ml.catalogue import Catalogue
from ml.interactions import ITEM, USER, Split, normalise_interactions, temporal_split
from ml.ranking_metrics import precision_curve, ranking_metrics
from ml.recommenders import (
    MODELS,
    ALSRecommender,
    Exclude,
    ItemCosineRecommender,
    PopularityRecommender,
    Recommender,
    excluded_pairs,
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
    "select_on_validation",
]


@dataclass(frozen=True)
class EvalSet:
    """Held-out truth: who is evaluated, their history (model input) and what they went on to use."""

    history: pl.DataFrame  # canonical interactions before the held-out period (what models saw)
    users: pl.Series
    relevant: pl.DataFrame  # user_id, item_id
    popularity: pl.DataFrame  # item_id, popularity_pct (from the history)
    n_items: int
    k: int

    def user_history(self) -> pl.DataFrame:
        """History rows of the evaluated users only: the input a model scores them from."""
        return self.history.join(pl.DataFrame({USER: self.users}), on=USER, how="semi")


@dataclass
class Evaluation:
    """Result of :func:`evaluate_models`: test metrics per model, the fitted models and the split.

    ``validation`` holds the validation-stage table (one row per candidate tried, with its
    parameters) when a choice was made; ``metrics`` are the TEST figures.
    """

    metrics: pl.DataFrame
    models: dict[str, Recommender]
    eval_set: EvalSet
    split: Split
    curves: dict[str, list[float]] = field(default_factory=dict)
    validation: pl.DataFrame | None = None

    def metric(self, model: str, name: str) -> float:
        return float(self.metrics.filter(pl.col("model") == model).get_column(name).item())

    def best_on_validation(self, name: str = "ndcg_at_10") -> str:
        """The model with the best validation ``name`` (the one to register); first model if no validation."""
        if self.validation is None:
            return str(self.metrics.get_column("model")[0])
        picked = self.validation.filter(pl.col("selected")).sort(name, descending=True, maintain_order=True)
        return str(picked.get_column("model")[0])

    def validation_metric(self, model: str, name: str) -> float:
        """``name`` of ``model`` (its selected setting) on the validation days."""
        assert self.validation is not None, "no validation stage"
        row = self.validation.filter((pl.col("model") == model) & pl.col("selected"))
        return float(row.get_column(name).item())

    def margin(self, name: str = "ndcg_at_10", model: str = "als", baseline: str = "popularity") -> float:
        """How much ``model`` beats ``baseline`` on ``name`` (absolute difference, test split)."""
        return self.metric(model, name) - self.metric(baseline, name)


def evaluation_set(
    history: pl.DataFrame,
    heldout: pl.DataFrame,
    fitted: Recommender,
    k: int,
    exclude: Exclude = "non_rebuyable",
) -> EvalSet:
    """Warm users of the held-out period and their relevant items.

    Relevant = items they interacted with in ``heldout`` that the model could recommend: known
    at training time and not excluded (a kettle they already bought does not count as a hit).
    """
    known_users = history.select(USER).unique()
    known_items = pl.DataFrame({ITEM: fitted.items_})
    relevant = (
        heldout.select(USER, ITEM)
        .unique()
        .join(known_users, on=USER, how="semi")
        .join(known_items, on=ITEM, how="semi")
        .join(excluded_pairs(history, fitted.catalogue, exclude), on=[USER, ITEM], how="anti")
        .sort(USER, ITEM)
    )
    return EvalSet(
        history=history,
        users=relevant.get_column(USER).unique().sort(),
        relevant=relevant,
        popularity=fitted.popularity_.select(ITEM, "popularity_pct"),
        n_items=len(fitted.items_),
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


def _score_all(
    fitted: Mapping[str, Recommender], eval_set: EvalSet
) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    rows, curves = [], {}
    history = eval_set.user_history()
    for name, model in fitted.items():
        recs = model.recommend(eval_set.users, k=eval_set.k, history=history)
        rows.append({"model": name, **score_recommendations(recs, eval_set)})
        curves[name] = precision_curve(recs, eval_set.relevant, eval_set.k)
    return rows, curves


def als_candidates(
    grid: Mapping[str, Sequence[Any]], catalogue: Catalogue | None = None, **fixed: Any
) -> list[ALSRecommender]:
    """One unfitted ALS per point of ``grid`` (e.g. ``{"factors": [8, 16], "regularization": [1, 10]}``)."""
    keys = list(grid)
    return [
        ALSRecommender(catalogue=catalogue, **fixed, **dict(zip(keys, values, strict=True)))
        for values in itertools.product(*(grid[key] for key in keys))
    ]


def select_on_validation(
    split: Split, candidates: Sequence[Recommender], *, k: int = 10, metric: str | None = None
) -> tuple[Recommender, pl.DataFrame]:
    """Fit each candidate on ``split.train``, score on ``split.validation``; return (best, table).

    The test period is never read. The table has one row per candidate (``model``, its
    ``param.*`` and the metrics, ``selected`` marking the winner). Callers refit the winner's
    class and parameters on ``train + validation`` (see :func:`evaluate_models`). Ties keep the
    earlier candidate, so list the simpler settings first.
    """
    if split.validation.height == 0:
        raise ValueError("no validation days: set validation_days > 0 to choose on validation")
    if not candidates:
        raise ValueError("no candidates")
    metric = metric or f"ndcg_at_{k}"
    rows: list[dict[str, Any]] = []
    eval_set: EvalSet | None = None
    for model in candidates:
        model.fit(split.train)
        if eval_set is None:
            eval_set = evaluation_set(split.train, split.validation, model, k)
        recs = model.recommend(eval_set.users, k=k, history=eval_set.user_history())
        rows.append(
            {"model": model.name, **{f"param.{p}": v for p, v in model.params().items()}}
            | score_recommendations(recs, eval_set)
        )
    scores = [row[metric] for row in rows]
    best = max(range(len(rows)), key=lambda i: (scores[i], -i))
    table = pl.DataFrame(rows, strict=False).with_columns(
        selected=pl.Series([i == best for i in range(len(rows))])
    )
    return candidates[best], table


def _validate(
    split: Split,
    models: dict[str, Recommender],
    k: int,
    als_grid: Mapping[str, Sequence[Any]] | None,
    catalogue: Catalogue | None,
) -> pl.DataFrame:
    """Validation stage: every model (and every ALS grid point) fitted on train, scored on validation.

    Replaces ``models["als"]`` by the grid's winner (unfitted) when ``als_grid`` is given.
    """
    tables = []
    for name, model in list(models.items()):
        if name == "als" and als_grid is not None:
            fixed = {key: value for key, value in model.params().items() if key not in als_grid}
            chosen, table = select_on_validation(split, als_candidates(als_grid, catalogue, **fixed), k=k)
            models[name] = ALSRecommender(catalogue=catalogue, **chosen.params())
        else:
            _, table = select_on_validation(split, [model], k=k)
        tables.append(table.with_columns(model=pl.lit(name)))
    return pl.concat(tables, how="diagonal_relaxed")


def evaluate_models(
    interactions: Any,
    *,
    test_days: int = 7,
    validation_days: int = 7,
    k: int = 10,
    models: Mapping[str, Recommender] | None = None,
    catalogue: Catalogue | None = None,
    columns: Mapping[str, str] | None = None,
    als_grid: Mapping[str, Sequence[Any]] | None = None,
    on_model: Callable[[str, Recommender], None] | None = None,
) -> Evaluation:
    """Choose on the validation days, then fit every model on all days before the test days and score them on those.

    ``interactions``: polars/pandas/Arrow with user, item, weight (optional) and timestamp columns
    (rename with ``columns={"user": ..., "item": ..., "weight": ..., "timestamp": ..., "purchased": ...}``).
    ``models``: name -> unfitted recommender (default: :func:`default_models`).
    ``validation_days`` > 0: every model is first fitted on the days before the validation days
    and scored on them (``Evaluation.validation``: what any choice, such as which model to
    register, must use); with ``als_grid`` the ``als`` parameters are chosen there too.
    ``validation_days=0`` skips that stage. ``Evaluation.metrics`` are TEST figures of the
    models refitted on train + validation.
    """
    cols = dict(columns or {})
    inter = normalise_interactions(
        interactions,
        **{key: cols[key] for key in ("user", "item", "weight", "timestamp", "purchased") if key in cols},
    )
    split = temporal_split(inter, test_days=test_days, validation_days=validation_days)
    candidates = dict(models) if models is not None else default_models(catalogue)
    validation = None
    if validation_days > 0 and split.validation.height:
        validation = _validate(split, candidates, k, als_grid, catalogue)
    elif als_grid is not None:
        raise ValueError("als_grid needs validation days")
    history = split.history
    fitted: dict[str, Recommender] = {}
    for name, model in candidates.items():
        fitted[name] = model.fit(history)
        if on_model is not None:
            on_model(name, fitted[name])
    eval_set = evaluation_set(history, split.test, next(iter(fitted.values())), k)
    rows, curves = _score_all(fitted, eval_set)
    return Evaluation(
        metrics=pl.DataFrame(rows),
        models=fitted,
        eval_set=eval_set,
        split=split,
        curves=curves,
        validation=validation,
    )


def model_class(name: str) -> type[Recommender]:
    """The recommender class registered under ``name`` (popularity, item_cosine, als)."""
    return MODELS[name]
