"""Population stability index (PSI): has the population the model scores drifted from the one it learned?

Bins are the reference (training) deciles, so each reference bin holds ~10% of users; PSI sums
``(cur% - ref%) * ln(cur% / ref%)`` over bins. Rule of thumb: < 0.1 stable, 0.1-0.25 moderate,
> 0.25 major shift. Empty bins get a small floor so the log stays finite.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

#: Above this PSI on any monitored feature, the drift check warns and retraining is requested
#: (0.25 = "major shift" in the usual rule of thumb; 0.1-0.25 is reported but tolerated).
PSI_THRESHOLD = 0.25
_FLOOR = 1e-4


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI of one numeric feature (nulls dropped)."""
    ref = reference[~np.isnan(reference)]
    cur = current[~np.isnan(current)]
    if len(ref) == 0 or len(cur) == 0:
        return float("nan")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_share = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1) / len(ref)
    cur_share = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1) / len(cur)
    ref_share = np.maximum(ref_share, _FLOOR)
    cur_share = np.maximum(cur_share, _FLOOR)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def psi_table(reference: pl.DataFrame, current: pl.DataFrame, features: Sequence[str]) -> pl.DataFrame:
    """``feature, psi`` for each feature present in both frames, worst first."""
    rows = [
        {
            "feature": f,
            "psi": psi(
                reference.get_column(f).cast(pl.Float64).fill_null(np.nan).to_numpy(),
                current.get_column(f).cast(pl.Float64).fill_null(np.nan).to_numpy(),
            ),
        }
        for f in features
        if f in reference.columns and f in current.columns
    ]
    return pl.DataFrame(rows, schema={"feature": pl.String, "psi": pl.Float64}).sort("psi", descending=True)
