"""Evaluation plots logged as MLflow artifacts (matplotlib, headless Agg backend)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve


def _figure(title: str, xlabel: str, ylabel: str) -> tuple[Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(5.5, 4.0), dpi=100)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def roc_figure(y: np.ndarray, probabilities: Mapping[str, np.ndarray]) -> Figure:
    fig, ax = _figure("ROC curve", "false positive rate", "true positive rate")
    for name, p in probabilities.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.legend()
    return fig


def pr_figure(y: np.ndarray, probabilities: Mapping[str, np.ndarray]) -> Figure:
    fig, ax = _figure("Precision-recall curve", "recall", "precision")
    for name, p in probabilities.items():
        precision, recall, _ = precision_recall_curve(y, p)
        ax.plot(recall, precision, label=name)
    ax.axhline(float(np.mean(y)), color="k", ls="--", lw=0.8, label="base rate")
    ax.legend()
    return fig


def calibration_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    fig, ax = _figure("Calibration", "mean predicted probability", "observed churn rate")
    for name, (observed, predicted) in curves.items():
        ax.plot(predicted, observed, marker="o", label=name)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.legend()
    return fig


def importance_figure(features: list[str], gains: np.ndarray) -> Figure:
    fig, ax = _figure("Feature importance (gain)", "gain", "")
    order = np.argsort(gains)
    ax.barh(np.array(features)[order], gains[order])
    fig.tight_layout()
    return fig


def precision_at_k_figure(curves: Mapping[str, list[float]]) -> Figure:
    fig, ax = _figure("precision@k on the held-out period", "k", "precision@k")
    for name, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", label=name)
    ax.legend()
    return fig


def silhouette_figure(silhouettes: Mapping[int, float], chosen: int) -> Figure:
    fig, ax = _figure("Silhouette by k", "k (clusters)", "silhouette")
    ks = sorted(silhouettes)
    ax.plot(ks, [silhouettes[k] for k in ks], marker="o")
    ax.axvline(chosen, color="k", ls="--", lw=0.8, label=f"chosen k={chosen}")
    ax.legend()
    return fig


def close(fig: Figure) -> None:
    plt.close(fig)
