"""Churn: will a user who was active before the cutoff do nothing in the next 30 days?

Label = no session and no purchase in ``[cutoff, cutoff + horizon_days)``; features come only
from before the cutoff (:mod:`ml.behaviour`). A gradient-boosting model (LightGBM) is compared
with a logistic-regression baseline on the same held-out users, so a reader sees whether the
extra model complexity is worth anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ml.behaviour import FEATURES, active_users, behaviour_features, latest_event_time

# Fewest users of either label a stratified three-way split accepts. With 2 the test split gets
# none and its ROC-AUC is undefined (recorded as NaN); from 3 every split gets one.
MIN_USERS_PER_CLASS = 2
LABEL = "churned"


def churn_dataset(
    events: Any, cutoff: dt.datetime | None = None, horizon_days: int = 30, lookback_days: int = 90
) -> tuple[pl.DataFrame, dt.datetime]:
    """(features + ``churned`` label per user, cutoff). Default cutoff: ``horizon_days`` before the last event."""
    if cutoff is None:
        cutoff = latest_event_time(events) - dt.timedelta(days=horizon_days)
    features = behaviour_features(events, cutoff, lookback_days)
    returned = active_users(events, cutoff, cutoff + dt.timedelta(days=horizon_days))
    labelled = features.join(returned.with_columns(_back=pl.lit(True)), on="user_id", how="left")
    return labelled.with_columns(pl.col("_back").is_null().cast(pl.Int8).alias(LABEL)).drop("_back"), cutoff


#: Boosting rounds are chosen by early stopping on the validation users: at most this many...
MAX_TREES = 3000
#: ...stopping after this many rounds without a better validation log-loss.
EARLY_STOPPING_ROUNDS = 200


def churn_models(seed: int = 42, num_threads: int = 1) -> dict[str, Any]:
    """The candidate (LightGBM) and the baseline (scaled logistic regression).

    LightGBM settings were chosen on VALIDATION users only (the test users untouched), on
    ``beacon generate`` data (2,000 users, 60 days, seed 7: 1,435 users at the cutoff, 13.5%
    churners), averaging validation ROC-AUC over 5 train/validation re-draws of the non-test
    users because one validation draw (~290 users, ~40 churners) has a standard error near 0.03:
    boosted stumps (2 leaves, 50 users per leaf, learning rate 0.03, rounds by early stopping)
    0.850; 4 leaves 0.847; 4 or 8 leaves with 100 per leaf and L2 10: 0.847; the former fixed
    100 trees x 4 leaves 0.843; logistic regression 0.837. Monotone constraints (churn rising
    with recency and days since purchase, falling with sessions, orders and views) and balanced
    class weights were tried on the first draw and gave no gain (within +-0.005), so they are
    not used. Stumps make an additive model: each feature's effect is a free-form curve, without
    interactions that a few thousand users cannot support. Log-transforming features for the
    baseline lowered it (0.800 vs 0.826 on the first draw), so the baseline stays plain.

    One thread by default: churn tables are thousands of rows, where thread start-up and
    spin-waiting cost more than they save (measured on a shared 2-core machine).
    """
    from lightgbm import LGBMClassifier

    return {
        "lightgbm": LGBMClassifier(
            n_estimators=MAX_TREES,
            learning_rate=0.03,
            num_leaves=2,
            min_child_samples=50,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            reg_lambda=1.0,
            random_state=seed,
            n_jobs=num_threads,
            verbose=-1,
        ),
        "logistic_regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    }


def classification_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """ROC-AUC, PR-AUC (average precision) and Brier score."""
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
    }


@dataclass
class ChurnTraining:
    """Fitted models, their validation and test metrics, the chosen family and what the plots need."""

    models: dict[str, Any]
    metrics: dict[str, dict[str, float]]  # TEST metrics per family
    validation_metrics: dict[str, dict[str, float]]
    chosen: str  # the family with the best validation ROC-AUC: the one to register
    x_train: pl.DataFrame
    x_test: pl.DataFrame
    y_test: np.ndarray
    probabilities: dict[str, np.ndarray]
    calibration: dict[str, tuple[np.ndarray, np.ndarray]]
    importances: pl.DataFrame
    churn_rate: float
    sizes: dict[str, int]

    @property
    def model(self) -> Any:
        """The chosen model (fitted on the training users)."""
        return self.models[self.chosen]


def check_label_counts(y: np.ndarray) -> None:
    """Refuse labels a three-way stratified split cannot take, saying what to change.

    scikit-learn's own refusal ("The least populated class in y has only 1 member") names
    neither the cause nor the fix.
    """
    churned = int(np.sum(y == 1))
    active = int(len(y) - churned)
    if min(churned, active) < MIN_USERS_PER_CLASS:
        raise ValueError(
            f"churn labels: {churned} churned and {active} active users at the cutoff; training needs at "
            f"least {MIN_USERS_PER_CLASS} of each (3 for defined test scores) to split users three ways. "
            "Give it more users or more "
            "days of history (e.g. `beacon demo --users 500 --days 60`), or move the cutoff."
        )


def split_users(
    y: np.ndarray, test_size: float = 0.2, validation_size: float = 0.2, seed: int = 42
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified train / validation / test row indices (sizes are shares of all users)."""
    idx = np.arange(len(y))
    rest, test = train_test_split(idx, test_size=test_size, stratify=y, random_state=seed)
    train, validation = train_test_split(
        rest, test_size=validation_size / (1.0 - test_size), stratify=y[rest], random_state=seed
    )
    return _every_label_in_every_split(y, train, validation, test)


def _every_label_in_every_split(
    y: np.ndarray, train: np.ndarray, validation: np.ndarray, test: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Give validation and test at least one user of each label, swapped in from training.

    Stratification rounds a rare label to zero in a small split (3 churners among 71 users come
    out 2 / 0 / 1), which leaves that split's ROC-AUC undefined. One training user of the label
    trades places with one user of the other label, so the split sizes stay as asked and training
    keeps at least one of each (there are at least :data:`MIN_USERS_PER_CLASS`).
    """
    train, held_out = train.copy(), [validation.copy(), test.copy()]
    for label in np.unique(y):
        for split in held_out:
            if np.any(y[split] == label):
                continue
            donors = np.flatnonzero(y[train] == label)
            if donors.size < 2:
                continue
            taker = int(np.flatnonzero(y[split] != label)[0])
            train[donors[0]], split[taker] = split[taker], train[donors[0]]
    return train, held_out[0], held_out[1]


def train_churn(
    dataset: pl.DataFrame, test_size: float = 0.2, validation_size: float = 0.2, seed: int = 42
) -> ChurnTraining:
    """Fit both families on training users, choose on validation users, report on test users.

    Users at one cutoff are split three ways (stratified by label): LightGBM's number of rounds
    is early-stopped on the validation users, and the family with the better validation ROC-AUC
    is the one to register (the choice and both validation scores are returned). Test users are
    scored once, for the reported ROC-AUC, PR-AUC and Brier score of BOTH families. The chosen
    model is the one that was evaluated (fitted on the training users): refitting it on more
    users of the same cutoff would leave the registered model without an honest score.
    """
    from lightgbm import early_stopping

    y = dataset.get_column(LABEL).to_numpy()
    check_label_counts(y)
    train_idx, val_idx, test_idx = split_users(y, test_size, validation_size, seed)
    x = dataset.select(FEATURES)
    x_train, x_val, x_test = x[train_idx], x[val_idx], x[test_idx]
    y_train, y_val, y_test = y[train_idx], y[val_idx], y[test_idx]
    xt, xv, xs = x_train.to_pandas(), x_val.to_pandas(), x_test.to_pandas()
    models, val_metrics, metrics, probs, calib = churn_models(seed), {}, {}, {}, {}
    for name, model in models.items():
        with threadpool_limits(1, "blas"):
            if name == "lightgbm":
                model.fit(
                    xt,
                    y_train,
                    eval_X=(xv,),
                    eval_y=(y_val,),
                    eval_metric="binary_logloss",
                    callbacks=[early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
                )
            else:
                model.fit(xt, y_train)
            val_metrics[name] = classification_metrics(y_val, model.predict_proba(xv)[:, 1])
            p = model.predict_proba(xs)[:, 1]
        probs[name] = p
        metrics[name] = classification_metrics(y_test, p)
        calib[name] = calibration_curve(y_test, p, n_bins=10, strategy="quantile")
    chosen = max(val_metrics, key=lambda n: (val_metrics[n]["roc_auc"], n == "logistic_regression"))
    booster = models["lightgbm"].booster_
    coefficients = models["logistic_regression"][-1].coef_.ravel()
    importances = pl.DataFrame(
        {
            "feature": list(FEATURES),
            "gain": booster.feature_importance(importance_type="gain"),
            "splits": booster.feature_importance(importance_type="split"),
            "lr_standardised_coef": coefficients,
        }
    ).sort("gain", descending=True)
    return ChurnTraining(
        models=models,
        metrics=metrics,
        validation_metrics=val_metrics,
        chosen=chosen,
        x_train=x_train,
        x_test=x_test,
        y_test=y_test,
        probabilities=probs,
        calibration=calib,
        importances=importances,
        churn_rate=float(y.mean()),
        sizes={"train": len(train_idx), "validation": len(val_idx), "test": len(test_idx)},
    )


def predict_churn(model: Pipeline | Any, features: pl.DataFrame) -> np.ndarray:
    """Churn probability per row of ``features`` (needs every column in :data:`FEATURES`)."""
    return model.predict_proba(features.select(FEATURES).to_pandas())[:, 1]
