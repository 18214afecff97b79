"""A/B experiment readouts: conversion (chi-square), revenue per user (Welch's t), CIs and power.

Everything is computed from per-variant sufficient statistics (n, conversions, sum and sum of
squares of revenue), so a readout over millions of users is one group-by. Each variant is
compared with the control (the variant named ``control``, else the first by name).

* conversion: Pearson chi-square on the 2x2 table (no Yates correction), Wilson 95% CI per
  variant, Wald 95% CI for the difference;
* revenue per user: Welch's unequal-variance t-test, 95% CI of the difference;
* sample size: users per arm needed to detect the OBSERVED conversion difference with
  power 0.8 at two-sided alpha 0.05 (normal approximation for two proportions).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from ml.behaviour import prepare_events
from ml.interactions import as_polars

ALPHA = 0.05
POWER = 0.8


def experiment_users_from_events(events: Any) -> pl.DataFrame:
    """Per user and experiment: first variant seen, converted (purchase at/after exposure), revenue.

    Users seen in more than one variant of an experiment are dropped (contaminated assignment).
    """
    frame = as_polars(events)
    base = prepare_events(frame).with_columns(
        frame.get_column("experiment_id").cast(pl.String).alias("experiment_id"),
        frame.get_column("variant").cast(pl.String).alias("variant"),
    )
    exposure = (
        base.drop_nulls(["experiment_id", "variant"])
        .group_by("user_id", "experiment_id")
        .agg(
            pl.col("variant").sort_by("occurred_at").first(),
            n_variants=pl.col("variant").n_unique(),
            exposed_at=pl.col("occurred_at").min(),
        )
        .filter(pl.col("n_variants") == 1)
    )
    purchases = base.filter(pl.col("event_type") == "purchase").select(
        "user_id", "occurred_at", amount=pl.col("amount").fill_null(0.0)
    )
    after = (
        exposure.join(purchases, on="user_id", how="inner")
        .filter(pl.col("occurred_at") >= pl.col("exposed_at"))
        .group_by("user_id", "experiment_id")
        .agg(revenue=pl.col("amount").sum())
    )
    return (
        exposure.join(after, on=["user_id", "experiment_id"], how="left")
        .select(
            "experiment_id",
            "variant",
            "user_id",
            converted=pl.col("revenue").is_not_null(),
            revenue=pl.col("revenue").fill_null(0.0),
        )
        .sort("experiment_id", "variant", "user_id")
    )


def required_sample_size(
    p1: np.ndarray, p2: np.ndarray, alpha: float = ALPHA, power: float = POWER
) -> np.ndarray:
    """Users per arm to detect p1 vs p2 (two-sided); inf when there is no difference."""
    z_a, z_b = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    p_bar = (p1 + p2) / 2
    num = (z_a * np.sqrt(2 * p_bar * (1 - p_bar)) + z_b * np.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2
    diff = np.abs(p1 - p2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(diff > 0, np.ceil(num / diff**2), np.inf)


def _wilson(conv: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    p = conv / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return centre - half, centre + half


def readout(users: Any, alpha: float = ALPHA, power: float = POWER) -> pl.DataFrame:
    """One row per (experiment, variant) with the statistics described in the module docstring.

    ``users``: ``experiment_id, variant, user_id, converted, revenue`` (see
    :func:`experiment_users_from_events`).
    """
    frame = as_polars(users)
    agg = (
        frame.group_by("experiment_id", "variant")
        .agg(
            users=pl.len(),
            conversions=pl.col("converted").cast(pl.Int64).sum(),
            revenue=pl.col("revenue").cast(pl.Float64).sum(),
            revenue_sq=(pl.col("revenue").cast(pl.Float64) ** 2).sum(),
        )
        .with_columns(is_control=pl.col("variant") == "control")
        .sort("experiment_id", "variant")
    )
    control_name = agg.group_by("experiment_id").agg(
        control=pl.when(pl.col("is_control").any()).then(pl.lit("control")).otherwise(pl.col("variant").min())
    )
    ctrl = (
        agg.join(control_name, on="experiment_id")
        .filter(pl.col("variant") == pl.col("control"))
        .select(
            "experiment_id",
            c_users="users",
            c_conversions="conversions",
            c_revenue="revenue",
            c_revenue_sq="revenue_sq",
            control_variant="variant",
        )
    )
    t = agg.join(ctrl, on="experiment_id", how="left").drop("is_control")
    n, c = t["users"].to_numpy().astype(float), t["conversions"].to_numpy().astype(float)
    n0, c0 = t["c_users"].to_numpy().astype(float), t["c_conversions"].to_numpy().astype(float)
    p, p0 = c / n, c0 / n0
    z = stats.norm.ppf(1 - alpha / 2)
    lo, hi = _wilson(c, n, z)
    # chi-square on the 2x2 table variant vs control (Pearson, 1 df)
    pooled = (c + c0) / (n + n0)
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = (p - p0) ** 2 / (pooled * (1 - pooled) * (1 / n + 1 / n0))
    chi2_p = stats.chi2.sf(chi2, df=1)
    se_diff = np.sqrt(p * (1 - p) / n + p0 * (1 - p0) / n0)
    # revenue per user: Welch
    mean, mean0 = t["revenue"].to_numpy() / n, t["c_revenue"].to_numpy() / n0
    var = np.maximum(t["revenue_sq"].to_numpy() - n * mean**2, 0) / np.maximum(n - 1, 1)
    var0 = np.maximum(t["c_revenue_sq"].to_numpy() - n0 * mean0**2, 0) / np.maximum(n0 - 1, 1)
    welch = stats.ttest_ind_from_stats(mean, np.sqrt(var), n, mean0, np.sqrt(var0), n0, equal_var=False)
    se_rpu = np.sqrt(var / n + var0 / n0)
    with np.errstate(divide="ignore", invalid="ignore"):
        dof = se_rpu**4 / ((var / n) ** 2 / np.maximum(n - 1, 1) + (var0 / n0) ** 2 / np.maximum(n0 - 1, 1))
    t_crit = stats.t.ppf(1 - alpha / 2, np.where(np.isfinite(dof), dof, 1e6))
    is_ctrl = (t["variant"] == t["control_variant"]).to_numpy()

    def nan_if_ctrl(values: np.ndarray) -> np.ndarray:
        """Comparisons with the control are undefined on the control's own row."""
        return np.where(is_ctrl, np.nan, values)

    rpu_sem = np.sqrt(var / n)
    rpu_t = stats.t.ppf(1 - alpha / 2, np.maximum(n - 1, 1))
    return pl.DataFrame(
        {
            "experiment_id": t["experiment_id"],
            "variant": t["variant"],
            "control_variant": t["control_variant"],
            "users": t["users"],
            "conversions": t["conversions"],
            "conversion_rate": p,
            "conversion_ci_low": lo,
            "conversion_ci_high": hi,
            "revenue_per_user": mean,
            "revenue_per_user_ci_low": mean - rpu_t * rpu_sem,
            "revenue_per_user_ci_high": mean + rpu_t * rpu_sem,
            "avg_order_value": np.where(c > 0, t["revenue"].to_numpy() / np.maximum(c, 1), np.nan),
            "conversion_diff": nan_if_ctrl(p - p0),
            "conversion_diff_ci_low": nan_if_ctrl(p - p0 - z * se_diff),
            "conversion_diff_ci_high": nan_if_ctrl(p - p0 + z * se_diff),
            "relative_uplift": nan_if_ctrl(np.where(p0 > 0, (p - p0) / np.where(p0 > 0, p0, 1), np.nan)),
            "chi2": nan_if_ctrl(chi2),
            "chi2_p_value": nan_if_ctrl(chi2_p),
            "revenue_per_user_diff": nan_if_ctrl(mean - mean0),
            "revenue_per_user_diff_ci_low": nan_if_ctrl(mean - mean0 - t_crit * se_rpu),
            "revenue_per_user_diff_ci_high": nan_if_ctrl(mean - mean0 + t_crit * se_rpu),
            "welch_t": nan_if_ctrl(np.asarray(welch.statistic)),
            "welch_p_value": nan_if_ctrl(np.asarray(welch.pvalue)),
            "required_users_per_arm": nan_if_ctrl(required_sample_size(p, p0, alpha, power)),
            "conversion_significant": np.where(is_ctrl, False, chi2_p < alpha),
            "revenue_significant": np.where(is_ctrl, False, np.asarray(welch.pvalue) < alpha),
        }
    )
