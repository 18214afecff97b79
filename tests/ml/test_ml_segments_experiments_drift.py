"""Segmentation, A/B readouts and drift on data with known structure."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from ml.drift import PSI_THRESHOLD, psi, psi_table
from ml.experiments import experiment_users_from_events, readout, required_sample_size
from ml.segments import SEGMENT_FEATURES, fit_segments
from ml.synthetic import synthetic_experiment


def _planted_segments(seed: int = 0) -> pl.DataFrame:
    """Three groups: big recent spenders, lapsed browsers, cart abandoners."""
    rng = np.random.default_rng(seed)
    n = 300
    groups = {
        "spender": {"recency_days": 2, "sessions_14d": 12, "orders_90d": 8, "monetary_90d": 900, "avg_order_value": 110,
                    "engaged_seconds_per_session": 200, "cart_abandonment_rate": 0.1},
        "lapsed": {"recency_days": 70, "sessions_14d": 0.2, "orders_90d": 0.3, "monetary_90d": 5, "avg_order_value": 5,
                   "engaged_seconds_per_session": 20, "cart_abandonment_rate": 0.05},
        "abandoner": {"recency_days": 10, "sessions_14d": 4, "orders_90d": 0.5, "monetary_90d": 20, "avg_order_value": 10,
                      "engaged_seconds_per_session": 60, "cart_abandonment_rate": 0.9},
    }  # fmt: skip
    frames = []
    for name, centre in groups.items():
        cols = {f: np.abs(rng.normal(v, 0.1 * v + 0.02, n)) for f, v in centre.items()}
        frames.append(pl.DataFrame({"user_id": [f"{name}-{i}" for i in range(n)], **cols}))
    return pl.concat(frames)


def test_kmeans_picks_planted_k_and_labels_clusters() -> None:
    features = _planted_segments()
    seg = fit_segments(features, k_range=range(2, 7))
    assert seg.k == 3
    assert set(seg.silhouettes) == {2, 3, 4, 5, 6}
    assert seg.silhouettes[3] == max(seg.silhouettes.values()) and seg.silhouettes[3] > 0.5
    labels = seg.assignments.with_columns(group=pl.col("user_id").str.extract(r"^(\w+)-"))
    purity = labels.group_by("group").agg(
        pl.col("segment").mode().first(), share=(pl.col("segment") == pl.col("segment").mode().first()).mean()
    )
    assert purity["share"].min() > 0.95 and purity["segment"].n_unique() == 3
    by_group = dict(labels.group_by("group").agg(pl.col("segment_label").first()).iter_rows())
    assert "high monetary_90d" in by_group["spender"] or "high orders_90d" in by_group["spender"]
    assert "high recency_days" in by_group["lapsed"]
    assert "high cart_abandonment_rate" in by_group["abandoner"]
    assert seg.profiles["size"].sum() == features.height
    assert {f"z_{f}" for f in SEGMENT_FEATURES} <= set(seg.profiles.columns)


def test_readout_finds_planted_uplift() -> None:
    users = synthetic_experiment(n_per_arm=8000, base_rate=0.10, uplift=0.25, revenue_uplift=0.0, seed=2)
    r = readout(users).filter(pl.col("variant") == "treatment").row(0, named=True)
    assert r["control_variant"] == "control"
    assert r["chi2_p_value"] < 0.01 and r["conversion_significant"]
    assert r["conversion_diff_ci_low"] < 0.025 < r["conversion_diff_ci_high"]  # true diff 0.10 * 0.25
    assert r["conversion_diff_ci_low"] > 0
    assert 0.15 < r["relative_uplift"] < 0.40
    assert r["welch_p_value"] < 0.05  # more converters -> more revenue per user
    assert 500 < r["required_users_per_arm"] < 8000
    # scipy agrees with our 2x2 chi-square (no continuity correction)
    from scipy.stats import chi2_contingency

    table = users.group_by("variant").agg(c=pl.col("converted").sum(), n=pl.len()).sort("variant")
    obs = np.array([[c, n - c] for c, n in table.select("c", "n").iter_rows()])
    assert r["chi2"] == pytest.approx(chi2_contingency(obs, correction=False)[0], rel=1e-9)


def test_readout_without_effect_has_the_nominal_false_positive_rate() -> None:
    # 60 A/A experiments in one readout: about 5% may look significant, not more
    users = pl.concat(
        [synthetic_experiment(n_per_arm=2000, uplift=0.0, seed=s, experiment_id=f"aa-{s}") for s in range(60)]
    )
    r = readout(users).filter(pl.col("variant") == "treatment")
    assert r.height == 60
    assert r["conversion_significant"].mean() <= 0.12
    covered = (r["conversion_diff_ci_low"] < 0) & (r["conversion_diff_ci_high"] > 0)
    assert covered.mean() >= 0.88


def test_sample_size_matches_textbook_value() -> None:
    # 10% -> 12%, alpha 0.05 two-sided, power 0.8: ~3841 per arm (pooled-variance formula)
    assert required_sample_size(np.array([0.12]), np.array([0.10]))[0] == pytest.approx(3841, abs=3)


def test_experiment_users_from_events() -> None:
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ev = pl.DataFrame(
        {
            "user_id": ["a", "a", "b", "b", "c", "c"],
            "occurred_at": [t, t + dt.timedelta(hours=1), t, t - dt.timedelta(hours=1), t, t],
            "event_type": ["page_view", "purchase", "page_view", "purchase", "page_view", "page_view"],
            "price": [None, 10.0, None, 7.0, None, None],
            "quantity": [None, 2, None, 1, None, None],
            "experiment_id": ["e", None, "e", None, "e", "e"],
            "variant": ["t", None, "control", None, "t", "control"],
        }
    )
    users = experiment_users_from_events(ev)
    assert users.select("user_id", "variant", "converted", "revenue").rows() == [
        ("b", "control", False, 0.0),  # bought BEFORE exposure
        ("a", "t", True, 20.0),
    ]  # c saw both variants: dropped


def test_psi_is_small_for_same_population_and_fires_on_shift() -> None:
    rng = np.random.default_rng(0)
    ref = pl.DataFrame({"recency_days": rng.exponential(10, 5000), "monetary_90d": rng.lognormal(3, 1, 5000)})
    same = pl.DataFrame(
        {"recency_days": rng.exponential(10, 5000), "monetary_90d": rng.lognormal(3, 1, 5000)}
    )
    shifted = pl.DataFrame(
        {"recency_days": rng.exponential(25, 5000), "monetary_90d": rng.lognormal(3, 1, 5000)}
    )
    assert psi(ref["recency_days"].to_numpy(), same["recency_days"].to_numpy()) < 0.02
    table = psi_table(ref, shifted, ["recency_days", "monetary_90d", "missing"])
    assert table["feature"].to_list() == ["recency_days", "monetary_90d"]
    assert table["psi"][0] > PSI_THRESHOLD > table["psi"][1]
