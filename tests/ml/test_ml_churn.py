"""Churn: features never read the future, labels follow the rule, LightGBM finds planted churners."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from ml.behaviour import FEATURES, behaviour_features
from ml.churn import LABEL, MAX_TREES, MIN_USERS_PER_CLASS, churn_dataset, split_users, train_churn
from ml.synthetic import START, synthetic_events


@pytest.fixture(scope="module")
def events() -> tuple[pl.DataFrame, pl.DataFrame]:
    return synthetic_events(n_users=900, n_days=120, cutoff_day=90, seed=5)


def test_features_ignore_everything_after_the_cutoff(events) -> None:
    ev, _ = events
    cutoff = dt.datetime(2026, 3, 15, 12, 0, tzinfo=dt.UTC)
    before = behaviour_features(ev, cutoff)
    after = ev.filter(pl.col("occurred_at") >= cutoff)
    assert after.height > 1000  # there IS future data to leak
    # 1) delete all post-cutoff data
    deleted = behaviour_features(ev.filter(pl.col("occurred_at") < cutoff), cutoff)
    # 2) perturb it: other types, 100x prices, engagement, and extra events for every user
    perturbed_rows = after.with_columns(
        event_type=pl.lit("purchase"),
        price=pl.col("price").fill_null(1.0) * 100,
        engaged_seconds=pl.lit(999.0),
    )
    extra = (
        ev.select("user_id")
        .unique()
        .with_columns(event_id=pl.lit("x"), occurred_at=pl.lit(cutoff), event_type=pl.lit("add_to_cart"))
    )
    perturbed = pl.concat(
        [ev.filter(pl.col("occurred_at") < cutoff), perturbed_rows, extra], how="diagonal_relaxed"
    )
    assert before.height > 500
    assert before.equals(deleted)
    assert before.equals(behaviour_features(perturbed, cutoff))
    # and the features do depend on pre-cutoff data (the test can fail)
    assert not before.equals(
        behaviour_features(ev.filter(pl.col("occurred_at") < cutoff - dt.timedelta(days=3)), cutoff)
    )


def test_label_is_no_activity_in_the_horizon() -> None:
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ev = pl.DataFrame(
        {
            "user_id": ["stays", "stays", "leaves", "late"],
            "occurred_at": [t, t + dt.timedelta(days=45), t, t + dt.timedelta(days=31)],
            "event_type": ["page_view", "page_view", "purchase", "page_view"],
        }
    )
    data, cutoff = churn_dataset(ev, cutoff=t + dt.timedelta(days=1), horizon_days=30)
    labels = dict(zip(data["user_id"], data[LABEL], strict=True))
    assert cutoff == t + dt.timedelta(days=1)
    assert labels == {"stays": 1, "leaves": 1}  # day 45 and day 31 are outside [day 1, day 31)
    data, _ = churn_dataset(ev, cutoff=t + dt.timedelta(days=16), horizon_days=30)
    assert dict(zip(data["user_id"], data[LABEL], strict=True)) == {"stays": 0, "leaves": 1}


def test_lightgbm_finds_planted_churners(events) -> None:
    ev, truth = events
    data, cutoff = churn_dataset(ev)
    assert abs(cutoff - (START + dt.timedelta(days=90))) < dt.timedelta(days=1)
    # labels agree with what was planted for most users
    joined = data.join(truth, on="user_id")
    agreement = (joined[LABEL].cast(pl.Boolean) == joined["planted_churner"]).mean()
    assert agreement > 0.85
    result = train_churn(data)
    gbm, lr = result.metrics["lightgbm"], result.metrics["logistic_regression"]
    assert gbm["roc_auc"] >= 0.80, result.metrics
    assert lr["roc_auc"] > 0.6
    # three disjoint user sets; LightGBM's rounds stopped early on validation; the family is
    # chosen on validation (test metrics are reported for both, never used to choose)
    sizes = result.sizes
    assert sum(sizes.values()) == data.height and abs(sizes["test"] - 0.2 * data.height) <= 1
    assert 1 <= result.models["lightgbm"].best_iteration_ < MAX_TREES
    val = result.validation_metrics
    assert result.chosen == max(val, key=lambda name: val[name]["roc_auc"])
    assert result.model is result.models[result.chosen]
    assert set(result.importances.columns) >= {"feature", "gain", "lr_standardised_coef"}
    assert 0 < gbm["brier"] < 0.25 and gbm["pr_auc"] > data[LABEL].mean()
    assert set(result.importances["feature"]) == set(FEATURES)
    assert result.importances["gain"][0] > 0
    observed, predicted = result.calibration["lightgbm"]
    assert np.all((predicted >= 0) & (predicted <= 1)) and len(observed) >= 5


def test_too_few_users_of_a_label_are_refused_with_what_to_do(events) -> None:
    data, _ = churn_dataset(events[0])
    churned, active = data.filter(pl.col(LABEL) == 1), data.filter(pl.col(LABEL) == 0)
    few = pl.concat([active.head(100), churned.head(MIN_USERS_PER_CLASS - 1)])
    with pytest.raises(ValueError, match=r"1 churned and 100 active users .* at least 2 of each .*--users"):
        train_churn(few)
    with pytest.raises(ValueError, match=r"0 churned and 60 active users"):
        train_churn(active.head(60))
    # the smallest accepted set trains; its test split has no churner, so its ROC-AUC is NaN
    tiny = train_churn(pl.concat([active.head(68), churned.head(MIN_USERS_PER_CLASS)]))
    assert tiny.y_test.sum() == 0 and np.isnan(tiny.metrics["lightgbm"]["roc_auc"])
    # from 3 churners every split has one, so every score is defined
    result = train_churn(pl.concat([active.head(68), churned.head(3)]))
    assert result.y_test.sum() == 1 and sum(result.sizes.values()) == 71
    assert all(
        np.isfinite(m["roc_auc"]) for m in [*result.metrics.values(), *result.validation_metrics.values()]
    )


def test_split_puts_every_label_in_every_split() -> None:
    """Stratification alone leaves validation without a churner at 3 of 71 (2 / 0 / 1)."""
    y = np.array([1] * 3 + [0] * 68)
    train, validation, test = split_users(y)
    assert [int(y[s].sum()) for s in (train, validation, test)] == [1, 1, 1]
    assert sorted(np.concatenate([train, validation, test])) == list(range(71))  # a partition of users
    assert (len(train), len(validation), len(test)) == (42, 14, 15)  # the sizes asked for
    big = np.array([1] * 300 + [0] * 700)  # nothing to repair: stratified shares stand
    assert [int(big[s].sum()) for s in split_users(big)] == [180, 60, 60]
