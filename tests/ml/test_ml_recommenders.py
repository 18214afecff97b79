"""Recommenders, their shared rules (exclusion, fallbacks) and the ranking metrics."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from ml.catalogue import Catalogue
from ml.interactions import build_matrix, normalise_interactions, temporal_split
from ml.ranking_metrics import ranking_metrics
from ml.recommend import ALSRecommender, PopularityRecommender, evaluate_models
from ml.recommenders import ItemCosineRecommender, fit_als_factors
from ml.synthetic import synthetic_interactions


@pytest.fixture(scope="module")
def data() -> tuple[pl.DataFrame, pl.DataFrame]:
    return synthetic_interactions(n_users=1200, n_items=240, n_interactions=36_000, seed=11)


@pytest.fixture(scope="module")
def evaluation(data: tuple[pl.DataFrame, pl.DataFrame]):
    inter, cat = data
    return evaluate_models(inter, test_days=7, validation_days=7, k=10, catalogue=Catalogue.from_table(cat))


def test_all_models_on_the_same_split_and_als_beats_popularity(evaluation) -> None:
    m = evaluation.metrics
    assert m.get_column("model").to_list() == ["popularity", "item_cosine", "als"]
    split = evaluation.split
    # test metrics: models fitted on train + validation, scored on the last 7 days only
    assert split.test["occurred_at"].min() >= split.test_start > split.history["occurred_at"].max()
    assert split.test_start - split.validation_start == dt.timedelta(days=7)
    v = evaluation.validation
    assert v is not None and set(v["model"]) == {"popularity", "item_cosine", "als"} and v["selected"].all()
    assert v["eval_users"].n_unique() == 1 and v["eval_users"][0] > 300
    assert evaluation.best_on_validation() == "als"
    assert m.get_column("eval_users").n_unique() == 1 and m["eval_users"][0] > 500
    for col in ("precision_at_10", "recall_at_10", "ndcg_at_10", "map_at_10", "coverage", "popularity_bias"):
        assert m.get_column(col).is_between(0.0, 1.0).all(), col
    margin = evaluation.margin("ndcg_at_10")
    assert margin > 0.03, f"ALS NDCG@10 margin over popularity only {margin:.4f}"
    # popularity recommends the head: high bias, tiny coverage; ALS covers far more of the catalogue
    assert evaluation.metric("popularity", "popularity_bias") > evaluation.metric("als", "popularity_bias")
    assert evaluation.metric("als", "coverage") > 3 * evaluation.metric("popularity", "coverage")


def test_evaluate_models_takes_pandas_and_arrow_with_own_column_names(data) -> None:
    inter, _ = data
    small = inter.head(8000)
    renamed = small.rename({"user_id": "customer", "item_id": "sku", "weight": "qty", "occurred_at": "ts"})
    models = {"popularity": PopularityRecommender()}
    cols = {"user": "customer", "item": "sku", "weight": "qty", "timestamp": "ts"}
    base = evaluate_models(small, test_days=5, validation_days=5, models=models).metrics
    for table in (renamed.to_pandas(), renamed.to_arrow()):
        got = evaluate_models(
            table,
            test_days=5,
            validation_days=5,
            models={"popularity": PopularityRecommender()},
            columns=cols,
        )
        assert got.metrics.get_column("model").to_list() == ["popularity"]
        for col in base.columns[1:]:
            assert got.metrics[col][0] == pytest.approx(base[col][0], rel=1e-9), col


def test_temporal_split_is_three_way_and_half_open() -> None:
    t0 = dt.datetime(2026, 1, 1)
    days = [0, 2, 3, 5, 10]
    inter = normalise_interactions(
        pl.DataFrame(
            {
                "user_id": ["a", "a", "b", "b", "c"],
                "item_id": ["x", "y", "z", "w", "v"],
                "occurred_at": [t0 + dt.timedelta(days=d) for d in days],
            }
        )
    )
    split = temporal_split(inter, test_days=5, validation_days=2)
    assert split.test_start == t0 + dt.timedelta(days=5) and split.validation_start == t0 + dt.timedelta(
        days=3
    )
    assert split.train.get_column("item_id").to_list() == ["x", "y"]
    assert split.validation.get_column("item_id").to_list() == ["z"]  # day 3 in, day 5 out
    assert sorted(split.test.get_column("item_id").to_list()) == ["v", "w"]
    assert split.history.get_column("item_id").to_list() == ["x", "y", "z"]
    with pytest.raises(ValueError, match="test_days"):
        temporal_split(inter, test_days=0)


def test_als_grid_is_chosen_on_validation_only() -> None:
    inter, cat = synthetic_interactions(n_users=500, n_items=100, n_interactions=12_000, seed=9)
    catalogue = Catalogue.from_table(cat)
    grid = {"factors": [4, 8], "regularization": [1.0, 30.0]}
    base = {
        "popularity": PopularityRecommender(catalogue=catalogue),
        "als": ALSRecommender(catalogue=catalogue),
    }
    got = evaluate_models(inter, k=10, catalogue=catalogue, models=base, als_grid=grid)
    table = got.validation
    assert table is not None and table.filter(pl.col("model") == "als").height == 4
    winner = table.filter((pl.col("model") == "als") & pl.col("selected")).row(0, named=True)
    assert winner["ndcg_at_10"] == table.filter(pl.col("model") == "als")["ndcg_at_10"].max()
    als = got.models["als"]
    assert isinstance(als, ALSRecommender)
    assert (als.factors, als.regularization) == (winner["param.factors"], winner["param.regularization"])
    # the test days change nothing in the choice: scramble them and the same setting wins
    end = got.split.test_start
    scrambled = inter.with_columns(
        pl.when(pl.col("occurred_at") >= end)
        .then(pl.col("item_id").shuffle(seed=1))
        .otherwise(pl.col("item_id"))
    )
    again = evaluate_models(
        scrambled,
        k=10,
        catalogue=catalogue,
        models={
            "popularity": PopularityRecommender(catalogue=catalogue),
            "als": ALSRecommender(catalogue=catalogue),
        },
        als_grid=grid,
    )
    assert again.validation is not None and again.validation.equals(table)
    assert again.metrics["ndcg_at_10"].to_list() != got.metrics["ndcg_at_10"].to_list()


def _tiny() -> tuple[pl.DataFrame, Catalogue]:
    t0 = dt.datetime(2026, 1, 1)
    rows = {
        "user_id": ["u1", "u1", "u2", "u2", "u3", "u3", "u4"],
        "item_id": ["kettle", "pods", "kettle", "pods", "kettle", "lamp", "lamp"],
        "weight": [5.0, 5.0, 5.0, 5.0, 1.0, 1.0, 1.0],
        "occurred_at": [t0 + dt.timedelta(hours=i) for i in range(7)],
        "purchased": [True, True, True, True, False, False, False],
    }
    catalogue = Catalogue.from_table(
        pl.DataFrame(
            {"item_id": ["kettle", "pods", "lamp"], "category": ["kitchen", "coffee_pods", "home_decor"]}
        )
    )
    return pl.DataFrame(rows), catalogue


def test_bought_items_excluded_unless_rebuyable() -> None:
    inter, catalogue = _tiny()
    model = PopularityRecommender(catalogue=catalogue).fit(inter)
    recs = model.recommend(["u1"], k=3)
    assert set(recs.get_column("item_id")) == {"pods", "lamp"}  # kettle bought, pods re-bought
    assert set(model.recommend(["u1"], k=3, exclude="owned").get_column("item_id")) == {"lamp"}
    assert set(model.recommend(["u1"], k=3, exclude="none").get_column("item_id")) == {
        "kettle",
        "pods",
        "lamp",
    }
    # a per-item map overrides categories: now the kettle is re-buyable and the pods are not
    per_item = Catalogue(items=catalogue.items, rebuyable={"kettle": True, "pods": False})
    recs = PopularityRecommender(catalogue=per_item).fit(inter).recommend(["u1"], k=3)
    assert set(recs.get_column("item_id")) == {"kettle", "lamp"}


def test_cold_start_and_no_consent_get_trending_in_preferred_categories() -> None:
    inter, cat = synthetic_interactions(n_users=300, n_items=60, n_interactions=6000, seed=4)
    catalogue = Catalogue.from_table(cat)
    model = ALSRecommender(catalogue=catalogue, factors=8, iterations=5).fit(inter)
    known = inter.get_column("user_id")[0]
    recs = model.recommend(
        [known, "brand-new", known + "-twin"],
        k=5,
        personalise=[False, True, True],
        preferred_categories={"brand-new": ["books"], known: ["books"]},
    )
    by_user = {u: g for (u,), g in recs.group_by("user_id")}
    books = set(cat.filter(pl.col("category") == "books").get_column("item_id"))
    assert by_user["brand-new"].get_column("source").to_list()[0] == "trending_in_category"
    n_books = len(books & set(model.popularity_.get_column("item_id")))
    assert set(by_user["brand-new"].get_column("item_id").head(min(5, n_books))) <= books
    assert set(by_user[known].get_column("source")) <= {"trending_in_category", "trending"}  # no consent
    assert by_user[known + "-twin"].get_column("source").to_list() == ["trending"] * 5  # cold, no prefs
    assert all(g.get_column("rank").to_list() == [1, 2, 3, 4, 5] for g in by_user.values())


def test_item_cosine_recommends_co_consumed_items() -> None:
    t0 = dt.datetime(2026, 1, 1)
    users = [f"u{i}" for i in range(20)]
    # half the users consume {a, b}, the other half {c, d}; "q" only has "a"
    items = ["a", "b"] * 10 + ["c", "d"] * 10
    inter = pl.DataFrame(
        {
            "user_id": [u for u in users[:10] for _ in range(2)]
            + [u for u in users[10:] for _ in range(2)]
            + ["q"],
            "item_id": [*items, "a"],
            "occurred_at": [t0] * 41,
        }
    )
    recs = ItemCosineRecommender(neighbours=2).fit(inter).recommend(["q"], k=1, exclude="owned")
    assert recs.get_column("item_id").to_list() == ["b"]


def test_ranking_metrics_match_hand_computation() -> None:
    recs = pl.DataFrame(
        {"user_id": ["u"] * 3 + ["v"] * 3, "item_id": ["a", "b", "c", "x", "y", "z"], "rank": [1, 2, 3] * 2}
    )
    relevant = pl.DataFrame({"user_id": ["u", "u", "v", "w"], "item_id": ["a", "c", "q", "a"]})
    pop = pl.DataFrame(
        {"item_id": ["a", "b", "c", "x", "y", "z"], "popularity_pct": [1.0, 0.5, 0.5, 0.0, 0.0, 0.0]}
    )
    m = ranking_metrics(recs, relevant, k=3, popularity=pop, n_items=12)
    # u: hits at 1 and 3; v: none; w: no recommendations at all -> counts as zero
    assert m["precision_at_3"] == pytest.approx((2 / 3) / 3)
    assert m["recall_at_3"] == pytest.approx(1.0 / 3)
    dcg_u = 1 + 1 / math.log2(4)
    assert m["ndcg_at_3"] == pytest.approx((dcg_u / (1 + 1 / math.log2(3))) / 3)
    assert m["map_at_3"] == pytest.approx(((1 + 2 / 3) / 2) / 3)
    assert m["coverage"] == pytest.approx(6 / 12)
    assert m["popularity_bias"] == pytest.approx(2.0 / 6)


def test_als_uses_implicit_and_stays_reproducible() -> None:
    inter, _ = synthetic_interactions(n_users=200, n_items=50, n_interactions=3000, seed=2)
    matrix = build_matrix(normalise_interactions(inter)).matrix
    params = {
        "factors": 8,
        "regularization": 0.1,
        "alpha": 5.0,
        "iterations": 3,
        "num_threads": 2,
        "random_state": 1,
    }
    u1, i1 = fit_als_factors(matrix, **params)
    u2, i2 = fit_als_factors(matrix, **params)
    assert u1.shape == (matrix.shape[0], 8) and i1.shape == (matrix.shape[1], 8)
    assert np.allclose(u1 @ i1.T, u2 @ i2.T, atol=1e-4)


def test_als_user_factors_are_implicits_recalculate_user() -> None:
    from implicit.cpu.als import AlternatingLeastSquares

    inter, _ = synthetic_interactions(n_users=300, n_items=80, n_interactions=6000, seed=6)
    model = ALSRecommender(factors=8, regularization=1.0, iterations=5, log_weights=False).fit(inter)
    matrix = build_matrix(normalise_interactions(inter))
    users = matrix.users.head(25)
    ours = model.recommend(users, k=5, exclude="none")
    lib = AlternatingLeastSquares(factors=8, regularization=1.0, num_threads=1)
    lib.item_factors = model.item_factors_
    ids, _ = lib.recommend(
        np.arange(25), matrix.matrix[:25], N=5, recalculate_user=True, filter_already_liked_items=False
    )
    expected = matrix.items.gather(ids.ravel()).to_list()
    assert ours.sort("user_id", "rank")["item_id"].to_list() == expected


def test_pickled_recommenders_hold_no_user_data(data) -> None:
    import pickle

    inter, cat = data
    catalogue = Catalogue.from_table(cat)
    users = inter["user_id"].unique().sort()
    for model in (
        PopularityRecommender(catalogue=catalogue),
        ItemCosineRecommender(catalogue=catalogue),
        ALSRecommender(catalogue=catalogue, iterations=3),
    ):
        model.fit(inter)
        blob = pickle.dumps(model)
        assert users[0].encode() in pickle.dumps(model.history_)  # the probe can fail...
        assert not any(u.encode() in blob for u in users.head(200).to_list()), model.name  # ...but finds none
        loaded = pickle.loads(blob)
        with pytest.raises(ValueError, match="history"):
            loaded.recommend(users.head(3))
        # given the users' history, the loaded model recommends exactly what the fitted one does
        some = users.head(50)
        assert loaded.recommend(some, history=inter).equals(model.recommend(some))
