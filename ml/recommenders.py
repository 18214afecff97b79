"""Three recommenders behind one interface: popularity, item-item cosine and ALS.

All of them ``fit(interactions)`` on the canonical interactions table and answer
``recommend(users, k, history=..., exclude=...)`` with a long frame
``user_id, item_id, rank, score, source``. What differs is only how a user's item scores are
computed from that user's interaction history (:meth:`Recommender._scores`); everything around
it is shared, so the comparison between models is fair:

* exclusion of items the user already bought unless the catalogue says they are re-bought;
* cold-start users and users without personalisation consent get trending items in their
  preferred categories (when given), topped up with trending items overall;
* ties broken by popularity, scoring done in user batches so memory stays bounded.

Privacy by construction: a fitted recommender keeps ITEM-side state only (item ids, item
popularity, item-item similarities, ALS item factors). A user's scores are computed at
recommendation time from that user's own interactions (``history``); ALS solves the user's
factors from them exactly as ``implicit``'s ``recalculate_user=True`` does. So a pickled or
MLflow-registered model holds no user identifier and no per-user factor, and erasing a person
from Beacon's tables erases them from every model's input. The training interactions stay on the
in-memory object (``history_``, for evaluation convenience) and are dropped when it is pickled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import polars as pl
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from ml.catalogue import CATEGORY, Catalogue
from ml.interactions import (
    BOUGHT,
    ITEM,
    TS,
    USER,
    WEIGHT,
    encode,
    matrix_from_codes,
    normalise_interactions,
)

Exclude = Literal["non_rebuyable", "owned", "none"]
#: Users scored per batch: bounds the dense (batch x items) score block.
BATCH_USERS = 2048
#: Attributes that hold per-user data: kept in memory, never pickled (see the module docstring).
USER_LEVEL_STATE = ("history_",)


def excluded_pairs(history: pl.DataFrame, catalogue: Catalogue, exclude: Exclude) -> pl.DataFrame:
    """``user_id, item_id`` pairs not to recommend, from the users' own (canonical) history.

    ``non_rebuyable`` drops items the user bought unless re-buyable, ``owned`` drops everything
    they bought, ``none`` drops nothing.
    """
    owned = history.filter(pl.col(BOUGHT)).select(USER, ITEM).unique()
    if exclude == "none":
        return owned.clear()
    if exclude == "owned":
        return owned
    if exclude == "non_rebuyable":
        return owned.join(catalogue.rebuyable_items(), on=ITEM, how="anti")
    raise ValueError(f"exclude must be non_rebuyable, owned or none, not {exclude!r}")


class Recommender:
    """Shared machinery; subclasses implement :meth:`_fit_model` and :meth:`_scores`."""

    name = "base"

    def __init__(self, catalogue: Catalogue | None = None, trending_days: int = 14) -> None:
        self.catalogue = catalogue or Catalogue()
        self.trending_days = trending_days

    def params(self) -> dict[str, Any]:
        """Hyper-parameters worth logging (none for the base machinery)."""
        return {}

    # ------------------------------------------------------------------ fitting
    def fit(self, interactions: Any) -> Recommender:
        """Learn from interactions (canonical columns; see :func:`ml.interactions.normalise_interactions`)."""
        inter = normalise_interactions(interactions)
        if inter.height == 0:
            raise ValueError("cannot fit a recommender on no interactions")
        users, items, u, i = encode(inter)
        matrix = matrix_from_codes(inter, users, items, u, i).matrix
        self.items_: pl.Series = items
        self.trained_until_: dt.datetime = inter.get_column(TS).max()  # type: ignore[assignment]
        self._fit_popularity(inter, matrix, i)
        self._fit_model(matrix)
        self.history_ = inter
        return self

    def __getstate__(self) -> dict[str, Any]:
        """Pickle item-side state only: no user ids, no per-user numbers."""
        state = self.__dict__.copy()
        for key in (*USER_LEVEL_STATE, *getattr(self, "_transient", ())):
            state.pop(key, None)
        return state

    def _fit_popularity(self, inter: pl.DataFrame, matrix: sp.csr_matrix, item_codes: np.ndarray) -> None:
        """Distinct users per item (all time) and interaction weight in the last ``trending_days``."""
        n_items = len(self.items_)
        users = np.bincount(matrix.indices, minlength=n_items).astype(np.float64)
        ts = inter.get_column(TS)
        end = ts.max()
        assert isinstance(end, dt.datetime)
        recent = (ts >= end - dt.timedelta(days=self.trending_days)).to_numpy()
        trend = np.bincount(
            item_codes[recent], weights=inter.get_column(WEIGHT).to_numpy()[recent], minlength=n_items
        )
        table = (
            pl.DataFrame({ITEM: self.items_, "users": users, "trend_weight": trend})
            .join(self.catalogue.items, on=ITEM, how="left", maintain_order="left")
            .with_columns(
                # percentile of popularity: 1.0 = the most popular item (popularity-bias metric)
                popularity_pct=pl.col("users").rank("average") / pl.len(),
                fallback_score=pl.col("trend_weight") + pl.col("users") / (users.max() + 1.0),
            )
        )
        self.popularity_ = table
        self._pop_vector = (users / (users.max() or 1.0)).astype(np.float32)

    def _fit_model(self, matrix: sp.csr_matrix) -> None:
        raise NotImplementedError

    def _scores(self, user_items: sp.csr_matrix) -> np.ndarray:
        """Dense (users x n_items) scores from the users' summed interaction weights (users x items CSR)."""
        raise NotImplementedError

    # ------------------------------------------------------------- recommending
    def recommend(
        self,
        users: Iterable[str] | pl.Series,
        k: int = 10,
        *,
        history: Any = None,
        exclude: Exclude = "non_rebuyable",
        personalise: Sequence[bool] | pl.Series | None = None,
        preferred_categories: Mapping[str, Sequence[str]] | pl.DataFrame | None = None,
    ) -> pl.DataFrame:
        """Top ``k`` items per user as ``user_id, item_id, rank, score, source``.

        ``history``: the users' interactions (any table :func:`normalise_interactions` accepts);
        default: the interactions this in-memory object was fitted on (a loaded model has none
        and must be given them). Users with no history on known items are cold-start.
        ``exclude``: ``non_rebuyable`` drops items the user bought unless re-buyable,
        ``owned`` drops everything they bought, ``none`` drops nothing.
        ``personalise``: per user, False for users without personalisation consent (they get the
        non-personalised fallback). ``preferred_categories``: user -> categories (mapping, or a
        frame ``user_id, category``) used by the fallback.
        """
        user_s = pl.Series(USER, list(users) if not isinstance(users, pl.Series) else users, dtype=pl.String)
        user_s = user_s.unique(maintain_order=True)
        hist = self._history(history, user_s)
        consent = (
            np.ones(len(user_s), dtype=bool)
            if personalise is None
            else np.asarray(pl.Series(personalise, dtype=pl.Boolean).fill_null(False).to_numpy(), dtype=bool)
        )
        excluded = excluded_pairs(hist, self.catalogue, exclude)
        coded = self._code_history(hist)
        warm = user_s.is_in(coded.get_column(USER).unique().implode()).to_numpy()
        model_mask = warm & consent
        parts = [self._recommend_known(user_s.filter(model_mask), coded, k, excluded)]
        fallback_users = user_s.filter(~model_mask)
        if len(fallback_users):
            parts.append(self._recommend_fallback(fallback_users, k, excluded, preferred_categories))
        return pl.concat(parts, how="vertical").sort(USER, "rank")

    def _history(self, history: Any, users: pl.Series) -> pl.DataFrame:
        if history is None:
            if not hasattr(self, "history_"):
                raise ValueError(
                    "this recommender holds no user data (loaded from an artifact): pass history="
                )
            hist = self.history_
        else:
            hist = normalise_interactions(history)
        return hist.join(pl.DataFrame({USER: users.unique()}), on=USER, how="semi")

    def _code_history(self, hist: pl.DataFrame) -> pl.DataFrame:
        """History rows on items the model knows, with the item's column index ``_i``."""
        lookup = pl.DataFrame({ITEM: self.items_, "_i": np.arange(len(self.items_), dtype=np.int32)})
        return hist.select(USER, ITEM, WEIGHT).join(lookup, on=ITEM, how="inner")

    def _recommend_known(
        self, users: pl.Series, coded: pl.DataFrame, k: int, excluded: pl.DataFrame
    ) -> pl.DataFrame:
        n_items = len(self.items_)
        rows = pl.DataFrame({USER: users, "_u": np.arange(len(users), dtype=np.int32)})
        shape = (len(users), n_items)
        inter = coded.join(rows, on=USER, how="inner")
        user_items = sp.csr_matrix(
            (
                inter.get_column(WEIGHT).to_numpy().astype(np.float32),
                (inter.get_column("_u").to_numpy(), inter.get_column("_i").to_numpy()),
            ),
            shape=shape,
            dtype=np.float32,
        )
        user_items.sum_duplicates()
        blocked_pairs = excluded.join(rows, on=USER).join(
            pl.DataFrame({ITEM: self.items_, "_i": np.arange(n_items, dtype=np.int32)}), on=ITEM
        )
        blocked_all = sp.csr_matrix(
            (
                np.ones(blocked_pairs.height, dtype=np.int8),
                (blocked_pairs.get_column("_u").to_numpy(), blocked_pairs.get_column("_i").to_numpy()),
            ),
            shape=shape,
        )
        out_users, out_items, out_scores, out_ranks = [], [], [], []
        for start in range(0, len(users), BATCH_USERS):
            stop = min(start + BATCH_USERS, len(users))
            scores = self._scores(user_items[start:stop]).astype(np.float32, copy=False)
            scores = scores + 1e-6 * self._pop_vector  # deterministic, popularity-aware tie-break
            blocked = blocked_all[start:stop].tocoo()
            scores[blocked.row, blocked.col] = -np.inf
            kk = min(k, n_items)
            top = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
            top_scores = np.take_along_axis(scores, top, axis=1)
            order = np.argsort(-top_scores, axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            top_scores = np.take_along_axis(top_scores, order, axis=1)
            valid = np.isfinite(top_scores)
            out_users.append(np.repeat(np.arange(start, stop), kk)[valid.ravel()])
            out_items.append(top[valid])
            out_scores.append(top_scores[valid])
            out_ranks.append(np.tile(np.arange(1, kk + 1), stop - start)[valid.ravel()])
        if not out_users:
            return _empty_recs()
        return pl.DataFrame(
            {
                USER: users.gather(np.concatenate(out_users)),
                ITEM: self.items_.gather(np.concatenate(out_items)),
                "rank": np.concatenate(out_ranks).astype(np.int32),
                "score": np.concatenate(out_scores).astype(np.float32),
                "source": pl.repeat(self.name, sum(len(u) for u in out_users), eager=True),
            }
        )

    def _recommend_fallback(
        self,
        users: pl.Series,
        k: int,
        excluded: pl.DataFrame,
        preferred: Mapping[str, Sequence[str]] | pl.DataFrame | None,
    ) -> pl.DataFrame:
        """Trending items in the user's preferred categories first, then trending overall."""
        depth = 3 * k  # enough candidates to survive exclusion of a few bought items
        ranked = self.popularity_.sort("fallback_score", ITEM, descending=[True, False])
        overall = ranked.head(depth).select(ITEM, "fallback_score", priority=pl.lit(1))
        candidates = pl.DataFrame({USER: users}).join(overall, how="cross")
        prefs = _preferences(preferred)
        if prefs is not None and prefs.height:
            by_cat = (
                ranked.drop_nulls(CATEGORY)
                .with_columns(_r=pl.int_range(pl.len()).over(CATEGORY))
                .filter(pl.col("_r") < depth)
                .select(CATEGORY, ITEM, "fallback_score")
            )
            in_cat = (
                prefs.join(pl.DataFrame({USER: users}), on=USER, how="semi")
                .join(by_cat, on=CATEGORY)
                .select(USER, ITEM, "fallback_score", priority=pl.lit(0))
            )
            candidates = pl.concat([in_cat, candidates], how="vertical")
        picked = (
            candidates.join(excluded, on=[USER, ITEM], how="anti")
            .sort([USER, "priority", "fallback_score", ITEM], descending=[False, False, True, False])
            .unique([USER, ITEM], keep="first", maintain_order=True)
            .with_columns(rank=pl.int_range(1, pl.len() + 1).over(USER).cast(pl.Int32))
            .filter(pl.col("rank") <= k)
        )
        return picked.select(
            USER,
            ITEM,
            "rank",
            score=pl.col("fallback_score").cast(pl.Float32),
            source=pl.when(pl.col("priority") == 0)
            .then(pl.lit("trending_in_category"))
            .otherwise(pl.lit("trending")),
        )


def _preferences(preferred: Mapping[str, Sequence[str]] | pl.DataFrame | None) -> pl.DataFrame | None:
    if preferred is None:
        return None
    if isinstance(preferred, pl.DataFrame):
        return preferred.select(pl.col(USER).cast(pl.String), pl.col(CATEGORY).cast(pl.String))
    return pl.DataFrame(
        {USER: list(preferred.keys()), CATEGORY: [list(v) for v in preferred.values()]},
        schema={USER: pl.String, CATEGORY: pl.List(pl.String)},
    ).explode(CATEGORY)


def _empty_recs() -> pl.DataFrame:
    return pl.DataFrame(
        schema={USER: pl.String, ITEM: pl.String, "rank": pl.Int32, "score": pl.Float32, "source": pl.String}
    )


class PopularityRecommender(Recommender):
    """Most popular items (distinct users) for everyone: the baseline every model must beat."""

    name = "popularity"

    def _fit_model(self, matrix: sp.csr_matrix) -> None:
        self._pop = self._pop_vector

    def _scores(self, user_items: sp.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self._pop, (user_items.shape[0], len(self._pop))).copy()


class ItemCosineRecommender(Recommender):
    """Item-to-item collaborative filtering: cosine similarity of item columns, top neighbours kept.

    Similarities are computed in column blocks and pruned to ``neighbours`` per item, so the
    item x item matrix stays sparse (items x neighbours) whatever the catalogue size. A user's
    scores are their log-scaled history times the similarities: no user state is kept.
    """

    name = "item_cosine"

    def __init__(self, neighbours: int = 100, block: int = 512, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.neighbours = neighbours
        self.block = block

    def params(self) -> dict[str, Any]:
        return {"neighbours": self.neighbours}

    def _fit_model(self, matrix: sp.csr_matrix) -> None:
        binary = _log1p(matrix)
        norms = np.sqrt(np.asarray(binary.multiply(binary).sum(axis=0)).ravel())
        normed = sp.csc_matrix(binary.multiply(1.0 / np.maximum(norms, 1e-12)).astype(np.float32))
        n_items = matrix.shape[1]
        keep = min(self.neighbours, max(n_items - 1, 1))
        gram_left = normed.T.tocsr()
        rows, cols, vals = [], [], []
        for start in range(0, n_items, self.block):
            stop = min(start + self.block, n_items)
            sims = (gram_left @ normed[:, start:stop]).toarray()  # items x block
            sims[np.arange(start, stop), np.arange(stop - start)] = 0.0  # no self-similarity
            top = np.argpartition(-sims, keep - 1, axis=0)[:keep]  # neighbours x block
            top_vals = np.take_along_axis(sims, top, axis=0)
            nz = top_vals > 0
            rows.append(top[nz])
            cols.append(np.broadcast_to(np.arange(start, stop), top.shape)[nz])
            vals.append(top_vals[nz])
        self.similarity_ = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_items, n_items),
            dtype=np.float32,
        )

    def _scores(self, user_items: sp.csr_matrix) -> np.ndarray:
        return (_log1p(user_items) @ self.similarity_).toarray()


class ALSRecommender(Recommender):
    """Implicit-feedback matrix factorisation (Hu, Koren & Volinsky) with ``implicit``'s CPU ALS.

    Only the item factors are kept. A user's factors are solved from that user's interactions
    when recommending, with ``implicit``'s own ``recalculate_user`` (the exact least-squares user
    step of ALS against the fixed item factors), so the model needs no user ids and serves users
    whose history changed since training. Evaluation uses the same path as serving.

    Defaults (8 factors, regularization 1, alpha 1, 15 iterations, log-scaled weights) were
    picked on the VALIDATION split only, by :func:`ml.recommend.select_on_validation` on
    ``beacon generate`` data (2,000 users, 60 days, seed 7; 121k interactions of 1,482 users on
    1,500 items): train = all but the last 14 days, validation = the 7 days before the last 7,
    which were not read. Grid: factors {8, 16, 32, 64} x regularization {0.1, 1, 10, 30} x alpha
    {1, 5}. Validation NDCG@10: 8/1/1 0.389 (chosen), 8/0.1/1 0.388, 8/10/1 0.385, 16/10/1 0.382,
    64/10/1 0.367, 64/0.1/1 0.250; popularity 0.327. alpha 5 never won; 32-64 lightly
    regularised factors lose to popularity. The top settings are within noise of each other;
    small, smooth factor models are what this data supports. Reported figures are on the test
    days (see the README / ``tests/ml/test_ml_generated.py``).
    BLAS is held single-threaded during the fit, as ``implicit`` recommends (its own threads do the
    parallel work; a threaded BLAS inside them oversubscribes the cores). Only the item factor
    matrix is pickled, so the model loads without ``implicit`` internals.
    """

    name = "als"
    _transient = ("_solver",)

    def __init__(
        self,
        factors: int = 8,
        regularization: float = 1.0,
        alpha: float = 1.0,
        iterations: int = 15,
        num_threads: int = 2,
        random_state: int = 42,
        log_weights: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.num_threads = num_threads
        self.random_state = random_state
        self.log_weights = log_weights

    def params(self) -> dict[str, Any]:
        return {
            "factors": self.factors,
            "regularization": self.regularization,
            "alpha": self.alpha,
            "iterations": self.iterations,
            "num_threads": self.num_threads,
            "random_state": self.random_state,
            "log_weights": self.log_weights,
        }

    def _confidence(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        return _log1p(matrix) if self.log_weights else matrix

    def _fit_model(self, matrix: sp.csr_matrix) -> None:
        self.__dict__.pop("_solver", None)  # a refit must not reuse the previous fit's item factors
        _, self.item_factors_ = fit_als_factors(
            self._confidence(matrix),
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            num_threads=self.num_threads,
            random_state=self.random_state,
        )

    def user_factors(self, user_items: sp.csr_matrix) -> np.ndarray:
        """Users' factors solved from their (raw-weight) interactions against the item factors."""
        solver = self.__dict__.get("_solver")
        if solver is None:
            solver = self._solver = als_solver(
                self.item_factors_, self.regularization, self.alpha, self.num_threads
            )
        with threadpool_limits(1, "blas"):
            return np.asarray(
                solver.recalculate_user(np.arange(user_items.shape[0]), self._confidence(user_items))
            )

    def _scores(self, user_items: sp.csr_matrix) -> np.ndarray:
        return self.user_factors(user_items) @ self.item_factors_.T


def _log1p(matrix: sp.csr_matrix) -> sp.csr_matrix:
    out = matrix.copy()
    out.data = np.log1p(out.data)
    return out


def fit_als_factors(
    user_items: sp.csr_matrix,
    *,
    factors: int,
    regularization: float,
    alpha: float,
    iterations: int,
    num_threads: int,
    random_state: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``implicit.cpu.als.AlternatingLeastSquares`` and return (user_factors, item_factors)."""
    from implicit.cpu.als import AlternatingLeastSquares

    with threadpool_limits(1, "blas"):  # implicit checks BLAS threading when the model is built
        model = AlternatingLeastSquares(
            factors=factors,
            regularization=regularization,
            alpha=alpha,
            iterations=iterations,
            num_threads=num_threads,
            random_state=random_state,
        )
        model.fit(user_items, show_progress=False)
    return np.asarray(model.user_factors), np.asarray(model.item_factors)


def als_solver(item_factors: np.ndarray, regularization: float, alpha: float, num_threads: int) -> Any:
    """An ``implicit`` ALS model holding only item factors: its ``recalculate_user`` solves user factors."""
    from implicit.cpu.als import AlternatingLeastSquares

    with threadpool_limits(1, "blas"):
        solver = AlternatingLeastSquares(
            factors=item_factors.shape[1],
            regularization=regularization,
            alpha=alpha,
            num_threads=num_threads,
        )
    solver.item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)
    return solver


MODELS: dict[str, type[Recommender]] = {
    PopularityRecommender.name: PopularityRecommender,
    ItemCosineRecommender.name: ItemCosineRecommender,
    ALSRecommender.name: ALSRecommender,
}
