"""PNG plots for the evaluation (Agg backend, no display needed). Each returns the file it wrote."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _plt():
    # No matplotlib.use("Agg"): headless runs fall back to Agg by themselves, and forcing it
    # would switch off inline plots in the notebook that called us.
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes (for reports that embed their plots); closes it."""
    import io

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    _plt().close(fig)
    return buf.getvalue()


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    _plt().close(fig)
    return path


def roc_curve_plot(y_true, scores: dict[str, np.ndarray], path: Path) -> Path:
    """ROC curves of several models on the same held-out data."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for name, s in scores.items():
        fpr, tpr, _ = roc_curve(y_true, s)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y_true, s):.3f})")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (held-out)")
    ax.legend(loc="lower right")
    return _save(fig, path)


def pr_curve_plot(y_true, scores: dict[str, np.ndarray], path: Path) -> Path:
    """Precision-recall curves of several models on the same held-out data."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for name, s in scores.items():
        precision, recall, _ = precision_recall_curve(y_true, s)
        ax.plot(recall, precision, label=f"{name} (AP {average_precision_score(y_true, s):.3f})")
    ax.axhline(float(np.mean(y_true)), linestyle=":", color="grey", label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (held-out)")
    ax.legend(loc="upper right")
    return _save(fig, path)


def reliability_plot(table: pd.DataFrame, path: Path) -> Path:
    """Reliability curve from :func:`experiments.evaluation.reliability_table`."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    shown = table.dropna(subset=["mean_score"])
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect calibration")
    ax.plot(shown["mean_score"], shown["observed_rate"], marker="o", label="model")
    ax.set(xlabel="mean predicted score", ylabel="observed positive rate", title="Reliability (held-out)",
           xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    return _save(fig, path)


def gain_plot(table: pd.DataFrame, path: Path) -> Path:
    """Cumulative gain by decile from :func:`experiments.evaluation.gain_lift_table`."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    x = np.concatenate([[0.0], table["cumulative_customers_share"].to_numpy()])
    g = np.concatenate([[0.0], table["cumulative_gain"].to_numpy()])
    ax.plot(x, g, marker="o", label="model")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="random")
    ax.set(xlabel="share of customers contacted", ylabel="share of positives reached", title="Cumulative gain")
    ax.legend(loc="lower right")
    return _save(fig, path)


def importance_plot(table: pd.DataFrame, path: Path, top: int = 20) -> Path:
    """Gain share and permutation AUC drop of the top features."""
    plt = _plt()
    shown = table.head(top).iloc[::-1]
    fig, axes = plt.subplots(1, 2, figsize=(9, 0.3 * len(shown) + 1.5), sharey=True)
    axes[0].barh(shown["feature"], shown["gain_share"])
    axes[0].set(title="XGBoost gain (share)")
    axes[1].barh(shown["feature"], shown["permutation_auc_drop"], color="tab:orange")
    axes[1].set(title="Permutation (ROC-AUC drop)")
    return _save(fig, path)


def search_history_plot(values: list[float | None], path: Path) -> Path:
    """CV ROC-AUC per trial with the running best (pruned trials shown as gaps)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = np.arange(len(values))
    ys = np.array([np.nan if v is None else v for v in values], dtype="float64")
    ax.scatter(xs, ys, s=14, label="trial (CV ROC-AUC)")
    best = np.fmax.accumulate(np.where(np.isnan(ys), -np.inf, ys))
    best = np.where(np.isinf(best), np.nan, best)
    ax.plot(xs, best, color="tab:red", label="best so far")
    ax.set(xlabel="trial", ylabel="CV ROC-AUC", title="Optuna search history")
    ax.legend(loc="lower right")
    return _save(fig, path)
