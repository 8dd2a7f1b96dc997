"""Held-out evaluation of a binary scorer: metrics, gain/lift, calibration, thresholds, importance.

Metric names are the DESIGN.md contract (:data:`METRIC_NAMES`): ``test_roc_auc``,
``test_pr_auc``, ``test_brier`` and ``test_lift_top_decile``. Every table here holds only
aggregates (counts, rates, scores at cut-offs), never a row of data.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

METRIC_NAMES = ("roc_auc", "pr_auc", "brier", "lift_top_decile")
TOP_K_PERCENTS = (5, 10, 20, 30)


def _arrays(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(y_true, dtype="float64"), np.asarray(y_score, dtype="float64")


def _order(y_score: np.ndarray) -> np.ndarray:
    """Indices by descending score; ties broken by position so results are deterministic."""
    return np.lexsort((np.arange(len(y_score)), -y_score))


def lift_at(y_true, y_score, fraction: float) -> float:
    """Positive rate among the top ``fraction`` of scores divided by the overall positive rate."""
    y, s = _arrays(y_true, y_score)
    n_top = max(int(np.ceil(fraction * len(y))), 1)
    base = y.mean()
    return float(y[_order(s)[:n_top]].mean() / base) if base > 0 else float("nan")


def binary_metrics(y_true, y_score, prefix: str = "test_") -> dict[str, float]:
    """ROC-AUC, PR-AUC (average precision), Brier score and lift in the top decile."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y, s = _arrays(y_true, y_score)
    return {
        f"{prefix}roc_auc": float(roc_auc_score(y, s)),
        f"{prefix}pr_auc": float(average_precision_score(y, s)),
        f"{prefix}brier": float(brier_score_loss(y, s)),
        f"{prefix}lift_top_decile": lift_at(y, s, 0.10),
    }


def gain_lift_table(y_true, y_score, n_bins: int = 10) -> pd.DataFrame:
    """Cumulative gain and lift by score decile (decile 1 = highest scores)."""
    y, s = _arrays(y_true, y_score)
    order = _order(s)
    y_sorted, s_sorted = y[order], s[order]
    bins = np.array_split(np.arange(len(y)), n_bins)
    total_pos = y.sum()
    base = y.mean()
    rows = []
    cum_n = cum_pos = 0
    for i, idx in enumerate(bins, start=1):
        n, pos = len(idx), float(y_sorted[idx].sum())
        cum_n += n
        cum_pos += pos
        rows.append({
            "decile": i, "customers": n, "positives": int(pos),
            "min_score": float(s_sorted[idx].min()) if n else float("nan"),
            "max_score": float(s_sorted[idx].max()) if n else float("nan"),
            "response_rate": pos / n if n else float("nan"),
            "lift": (pos / n) / base if n and base else float("nan"),
            "cumulative_customers_share": cum_n / len(y),
            "cumulative_gain": cum_pos / total_pos if total_pos else float("nan"),
            "cumulative_lift": (cum_pos / cum_n) / base if cum_n and base else float("nan"),
        })
    return pd.DataFrame(rows)


def reliability_table(y_true, y_score, n_bins: int = 10) -> pd.DataFrame:
    """Calibration: mean predicted score and observed rate per equal-width score bin."""
    y, s = _arrays(y_true, y_score)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(s, edges[1:-1]), 0, n_bins - 1)
    frame = pd.DataFrame({"bin": which, "y": y, "s": s})
    agg = frame.groupby("bin").agg(customers=("y", "size"), mean_score=("s", "mean"), observed_rate=("y", "mean"))
    agg = agg.reindex(range(n_bins))
    agg.insert(0, "bin_low", edges[:-1])
    agg.insert(1, "bin_high", edges[1:])
    agg["customers"] = agg["customers"].fillna(0).astype(int)
    return agg.reset_index(drop=True)


def top_k_table(y_true, y_score, percents=TOP_K_PERCENTS) -> pd.DataFrame:
    """Precision and recall when marketing contacts the top k% of customers by score."""
    y, s = _arrays(y_true, y_score)
    order = _order(s)
    total_pos = y.sum()
    rows = []
    for k in percents:
        n_top = max(int(np.ceil(k / 100 * len(y))), 1)
        hit = y[order[:n_top]].sum()
        rows.append({"top_percent": k, "contacted": n_top, "score_threshold": float(s[order[n_top - 1]]),
                     "precision": float(hit / n_top), "recall": float(hit / total_pos) if total_pos else float("nan"),
                     "lift": float((hit / n_top) / y.mean()) if y.mean() else float("nan")})
    return pd.DataFrame(rows)


def top_decile_threshold(y_score) -> float:
    """The score of the last customer in the top 10% (the default operating threshold)."""
    s = np.asarray(y_score, dtype="float64")
    n_top = max(int(np.ceil(0.10 * len(s))), 1)
    return float(s[_order(s)[n_top - 1]])


def permutation_importance(score_fn: Callable[[pd.DataFrame], np.ndarray], X: pd.DataFrame, y,
                           *, seed: int, n_repeats: int = 3) -> pd.Series:
    """Mean drop in ROC-AUC when one feature's values are shuffled (one column at a time).

    ``score_fn`` maps a feature frame to positive-class scores.
    """
    from sklearn.metrics import roc_auc_score

    y_arr = np.asarray(y, dtype="float64")
    base = roc_auc_score(y_arr, score_fn(X))
    rng = np.random.default_rng(seed)
    drops = {}
    for col in X.columns:  # one model call per feature and repeat: the unit of work is a column
        losses = []
        for _ in range(n_repeats):
            shuffled = X.copy()
            shuffled[col] = X[col].iloc[rng.permutation(len(X))].set_axis(X.index)
            losses.append(base - roc_auc_score(y_arr, score_fn(shuffled)))
        drops[col] = float(np.mean(losses))
    return pd.Series(drops, name="permutation_auc_drop")


def importance_table(gain: dict[str, float], permutation: pd.Series) -> pd.DataFrame:
    """Gain (share of total) and permutation importance per feature, sorted by gain."""
    features = list(permutation.index)
    total = sum(gain.values()) or 1.0
    frame = pd.DataFrame({
        "feature": features,
        "gain_share": [gain.get(f, 0.0) / total for f in features],
        "permutation_auc_drop": permutation.reindex(features).to_numpy(),
    })
    return frame.sort_values(["gain_share", "permutation_auc_drop"], ascending=False).reset_index(drop=True)
