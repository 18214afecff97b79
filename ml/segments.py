"""Customer segments: K-means on standardised behavioural features, k chosen by silhouette.

Skewed counts and money are log-transformed before scaling so one big spender does not become
a cluster of one. Each cluster gets a readable label from the standardised features that are
clearly above or below average in its centre ("high monetary_90d, low recency_days"), so a
dashboard can show segments without anyone naming clusters by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from threadpoolctl import threadpool_limits

# SEGMENT_FEATURES lives with the other feature lists, importable without scikit-learn.
from ml.behaviour import SEGMENT_FEATURES

#: A feature is "high"/"low" for a cluster when its centre is this many SDs from the mean.
LABEL_THRESHOLD = 0.5


def segmentation_pipeline(k: int, seed: int = 42) -> Pipeline:
    """log1p -> standardise -> K-means; one object, so scoring repeats exactly what training did."""
    return Pipeline(
        [
            ("log", FunctionTransformer(np.log1p, feature_names_out="one-to-one")),
            ("scale", StandardScaler()),
            ("kmeans", KMeans(n_clusters=k, n_init=10, random_state=seed)),
        ]
    )


def silhouette_of(pipeline: Pipeline, x: pd.DataFrame, sample: int = 3000, seed: int = 42) -> float:
    """Silhouette of ``pipeline``'s clustering of ``x`` (on a sample: silhouette is O(n^2))."""
    z = pipeline[:-1].transform(x)
    labels = pipeline[-1].predict(z)
    if len(np.unique(labels)) < 2:
        return -1.0
    return float(silhouette_score(z, labels, sample_size=min(sample, len(x)), random_state=seed))


@dataclass
class Segmentation:
    pipeline: Pipeline
    k: int
    silhouettes: dict[int, float]
    profiles: pl.DataFrame  # segment, label, size, share, z_<feature>..., mean_<feature>...
    assignments: pl.DataFrame  # user_id, segment, segment_label


def segment_matrix(features: pl.DataFrame) -> pd.DataFrame:
    """The clustering input: :data:`SEGMENT_FEATURES` as float, negatives clipped to 0 (log1p domain)."""
    return features.select(
        pl.col(f).cast(pl.Float64).fill_null(0.0).clip(lower_bound=0.0) for f in SEGMENT_FEATURES
    ).to_pandas()


def fit_segments(features: pl.DataFrame, k_range: range = range(2, 9), seed: int = 42) -> Segmentation:
    """Fit K-means for each k in ``k_range``, keep the best silhouette, profile and label its clusters."""
    x = segment_matrix(features)
    ks = [k for k in k_range if k < len(x)]
    if not ks:
        raise ValueError("not enough users to cluster")
    with threadpool_limits(1):  # small data: OpenMP spin-waiting costs more than it saves on shared cores
        fitted = {k: segmentation_pipeline(k, seed).fit(x) for k in ks}
        silhouettes = {k: silhouette_of(p, x, seed=seed) for k, p in fitted.items()}
    best = max(silhouettes, key=lambda k: silhouettes[k])
    pipeline = fitted[best]
    segment = pipeline.predict(x)
    profiles = profile_segments(pipeline, features, segment)
    assignments = (
        features.select("user_id")
        .with_columns(segment=pl.Series(segment, dtype=pl.Int32))
        .join(profiles.select("segment", "label"), on="segment", how="left", maintain_order="left")
    )
    return Segmentation(
        pipeline=pipeline,
        k=best,
        silhouettes=silhouettes,
        profiles=profiles,
        assignments=assignments.rename({"label": "segment_label"}),
    )


def profile_segments(pipeline: Pipeline, features: pl.DataFrame, segment: np.ndarray) -> pl.DataFrame:
    """Size, raw means and standardised centre per segment, plus a label from the extreme features."""
    centres = pipeline[-1].cluster_centers_  # already in standardised space
    names = list(SEGMENT_FEATURES)
    labels = []
    for c in centres:
        order = np.argsort(-np.abs(c))
        parts = [
            f"{'high' if c[i] > 0 else 'low'} {names[i]}" for i in order[:2] if abs(c[i]) >= LABEL_THRESHOLD
        ]
        labels.append(", ".join(parts) or "average")
    seen: dict[str, int] = {}
    unique_labels = []
    for label in labels:  # one label per cluster, a handful of clusters: not a row loop
        seen[label] = seen.get(label, 0) + 1
        unique_labels.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    means = (
        features.select(SEGMENT_FEATURES)
        .with_columns(segment=pl.Series(segment, dtype=pl.Int32))
        .group_by("segment")
        .agg(size=pl.len(), **{f"mean_{f}": pl.col(f).mean() for f in names})
    )
    centre = pl.DataFrame(
        {"segment": np.arange(len(centres), dtype=np.int32), "label": unique_labels}
        | {f"z_{f}": centres[:, j] for j, f in enumerate(names)}
    )
    return (
        centre.join(means, on="segment", how="left")
        .with_columns(pl.col("size").fill_null(0), share=pl.col("size").fill_null(0) / len(segment))
        .sort("segment")
    )
