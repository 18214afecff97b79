"""Top-k ranking metrics computed with joins, for any recommender's output frame.

Definitions (k = cut-off, R_u = relevant held-out items of user u, hit_i = rank i is relevant):
precision@k = hits / k; recall@k = hits / |R_u|; NDCG@k = sum hit_i / log2(i + 1) over the ideal
DCG of min(|R_u|, k) hits; MAP@k = mean over users of sum_i precision@i * hit_i / min(|R_u|, k).
Every user with at least one relevant item counts, including users the model returned nothing
for (they score 0), so a model cannot win by abstaining.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ml.interactions import ITEM, USER


def ranking_metrics(
    recs: pl.DataFrame, relevant: pl.DataFrame, k: int, popularity: pl.DataFrame, n_items: int
) -> dict[str, float]:
    """Metrics of ``recs`` (user_id, item_id, rank) against ``relevant`` (user_id, item_id).

    ``popularity`` has ``item_id, popularity_pct`` (1.0 = most popular training item) for the
    popularity-bias measure; ``n_items`` is the catalogue size for coverage.
    """
    rel = relevant.select(USER, ITEM).unique()
    top = recs.filter(pl.col("rank") <= k).join(rel, on=USER, how="semi")
    hits = (
        top.join(rel.with_columns(_hit=pl.lit(1.0)), on=[USER, ITEM], how="left")
        .with_columns(pl.col("_hit").fill_null(0.0))
        .sort(USER, "rank")
        .with_columns(_cum=pl.col("_hit").cum_sum().over(USER))
        .group_by(USER)
        .agg(
            n_hits=pl.col("_hit").sum(),
            dcg=(pl.col("_hit") / (pl.col("rank").cast(pl.Float64) + 1.0).log(2)).sum(),
            ap=(pl.col("_hit") * pl.col("_cum") / pl.col("rank")).sum(),
        )
    )
    per_user = (
        rel.group_by(USER)
        .agg(n_rel=pl.len())
        .join(hits, on=USER, how="left")
        .fill_null(0.0)
        .sort(USER)  # a fixed order makes the float means reproducible run to run
    )
    n_rel = per_user.get_column("n_rel").to_numpy().astype(np.int64)
    ideal = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    idcg = ideal[np.minimum(n_rel, k) - 1]
    n_hits = per_user.get_column("n_hits").to_numpy()
    rec_items = recs.filter(pl.col("rank") <= k)
    pop = rec_items.join(popularity.select(ITEM, "popularity_pct"), on=ITEM, how="left")
    return {
        f"precision_at_{k}": float(np.mean(n_hits / k)),
        f"recall_at_{k}": float(np.mean(n_hits / n_rel)),
        f"ndcg_at_{k}": float(np.mean(per_user.get_column("dcg").to_numpy() / idcg)),
        f"map_at_{k}": float(np.mean(per_user.get_column("ap").to_numpy() / np.minimum(n_rel, k))),
        "coverage": float(rec_items.get_column(ITEM).n_unique() / max(n_items, 1)),
        "popularity_bias": float(pop.get_column("popularity_pct").fill_null(0.0).mean() or 0.0),
        "eval_users": float(per_user.height),
    }


def precision_curve(recs: pl.DataFrame, relevant: pl.DataFrame, k: int) -> list[float]:
    """precision@1..k averaged over evaluated users (for the precision@k plot)."""
    rel = relevant.select(USER, ITEM).unique()
    users = rel.get_column(USER).n_unique()
    hits = (
        recs.filter(pl.col("rank") <= k)
        .join(rel, on=[USER, ITEM], how="semi")
        .group_by("rank")
        .agg(n=pl.len())
    )
    by_rank = np.zeros(k)
    by_rank[hits.get_column("rank").to_numpy() - 1] = hits.get_column("n").to_numpy()
    return list(np.cumsum(by_rank) / (np.arange(1, k + 1) * max(users, 1)))
