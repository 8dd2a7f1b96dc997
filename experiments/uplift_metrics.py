"""Uplift evaluation metrics: Qini and uplift curves, Qini coefficient, AUUC, uplift at k%, deciles.

Conventions (the same as scikit-uplift, so numbers can be cross-checked):

- Customers are sorted by predicted uplift, highest first. Tied scores form one block: a curve
  has a point only at the end of each block, so the order inside a tie never matters.
- At a cut that targets the first ``n`` customers, with ``N_t(n)``/``N_c(n)`` treated/control
  customers and ``Y_t(n)``/``Y_c(n)`` responders among them:

  * Qini curve  ``Q(n) = Y_t(n) - Y_c(n) * N_t(n) / N_c(n)``  (0 while ``N_c(n) = 0``): the
    incremental responses among the targeted treated customers.
  * uplift curve ``U(n) = (Y_t(n)/N_t(n) - Y_c(n)/N_c(n)) * n`` (0 while an arm is empty): the
    incremental responses had all ``n`` targeted customers been treated.

- The x axis is the fraction targeted ``n / N``; areas use the trapezoid rule from ``(0, 0)``.
- The normalised Qini coefficient is ``(A_model - A_random) / (A_perfect - A_random)``, where
  ``A_random`` is the area under the straight line to the last point and ``A_perfect`` the
  area of the ideal ordering (treated responders first, control responders last). 1 is perfect,
  0 is random, negative is worse than random.
- AUUC is the area under the uplift curve divided by ``N``: incremental responses per customer,
  averaged over all budgets. A random ordering scores half the overall uplift.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = [
    "auuc",
    "perfect_qini_curve",
    "qini_coefficient",
    "qini_curve",
    "uplift_at_k",
    "uplift_by_decile",
    "uplift_curve",
]


def _arrays(y_true, treatment, score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=float).ravel()
    t = np.asarray(treatment, dtype=float).ravel()
    s = np.asarray(score, dtype=float).ravel()
    if not (y.size == t.size == s.size):
        raise ValueError(f"y_true, treatment and score differ in length. Got {y.size}, {t.size}, {s.size}")
    if y.size == 0:
        raise ValueError("no rows to evaluate")
    if not np.isin(t, (0.0, 1.0)).all():
        raise ValueError("treatment must be 0/1")
    if np.isnan(s).any():
        raise ValueError("score holds missing values")
    return y, t, s


def _cumulative(y_true, treatment, score):
    """Cumulative counts at the end of every tie block, highest score first."""
    y, t, s = _arrays(y_true, treatment, score)
    order = np.argsort(-s, kind="mergesort")
    y, t, s = y[order], t[order], s[order]
    ends = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]
    n_t = np.cumsum(t)[ends]
    n_c = np.cumsum(1 - t)[ends]
    y_t = np.cumsum(y * t)[ends]
    y_c = np.cumsum(y * (1 - t))[ends]
    n = ends + 1.0
    return n, n_t, n_c, y_t, y_c, float(y.size)


def _with_origin(x: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.r_[0.0, x], np.r_[0.0, v]


def qini_curve(y_true, treatment, score) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve: ``(fraction targeted, incremental responses)``, starting at ``(0, 0)``."""
    n, n_t, n_c, y_t, y_c, total = _cumulative(y_true, treatment, score)
    ratio = np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c > 0)
    return _with_origin(n / total, y_t - y_c * ratio)


def uplift_curve(y_true, treatment, score) -> tuple[np.ndarray, np.ndarray]:
    """Uplift curve: ``(fraction targeted, (rate_t - rate_c) * n)``, starting at ``(0, 0)``."""
    n, n_t, n_c, y_t, y_c, total = _cumulative(y_true, treatment, score)
    rate_t = np.divide(y_t, n_t, out=np.zeros_like(y_t), where=n_t > 0)
    rate_c = np.divide(y_c, n_c, out=np.zeros_like(y_c), where=n_c > 0)
    values = np.where((n_t > 0) & (n_c > 0), (rate_t - rate_c) * n, 0.0)
    return _with_origin(n / total, values)


def perfect_qini_curve(y_true, treatment) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve of the ideal ordering: treated responders first, control responders last."""
    y = np.asarray(y_true, dtype=float).ravel()
    t = np.asarray(treatment, dtype=float).ravel()
    return qini_curve(y, t, y * t - y * (1 - t))


def _area(x: np.ndarray, v: np.ndarray) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (v[1:] + v[:-1]) / 2.0))


def qini_coefficient(y_true, treatment, score, *, normalise: bool = True) -> float:
    """Area between the Qini curve and the random line; normalised by the perfect model's.

    Returns NaN when the perfect model is no better than random (no signal to normalise by).
    Without ``normalise``, the area is divided by ``N`` (incremental responses per customer).
    """
    x, q = qini_curve(y_true, treatment, score)
    total = float(np.asarray(y_true).size)
    random_area = q[-1] / 2.0
    model_gain = _area(x, q) - random_area
    if not normalise:
        return model_gain / total
    px, pq = perfect_qini_curve(y_true, treatment)
    perfect_gain = _area(px, pq) - random_area
    if perfect_gain <= 0:
        return float("nan")
    return model_gain / perfect_gain


def auuc(y_true, treatment, score) -> float:
    """Area under the uplift curve divided by ``N`` (incremental responses per customer)."""
    x, u = uplift_curve(y_true, treatment, score)
    return _area(x, u) / float(np.asarray(y_true).size)


def uplift_at_k(y_true, treatment, score, k: float = 0.3) -> float:
    """Response rate of treated minus control among the top ``ceil(k * N)`` customers by score.

    Returns NaN when the top ``k`` holds no treated or no control customer (callers report it).
    """
    if not 0 < k <= 1:
        raise ValueError(f"k must be in (0, 1]. Got {k!r}")
    y, t, s = _arrays(y_true, treatment, score)
    top = np.argsort(-s, kind="mergesort")[: int(math.ceil(k * y.size - 1e-9))]
    yt, tt = y[top], t[top]
    if tt.sum() == 0 or (1 - tt).sum() == 0:
        return float("nan")
    return float(yt[tt == 1].mean() - yt[tt == 0].mean())


def uplift_by_decile(y_true, treatment, score, *, bins: int = 10) -> pd.DataFrame:
    """Observed uplift per score decile (decile 1 = highest predicted uplift).

    Columns: ``decile``, ``n``, ``n_treated``, ``n_control``, ``response_rate_treated``,
    ``response_rate_control``, ``observed_uplift`` (NaN where an arm is empty), and
    ``mean_predicted_uplift``.
    """
    y, t, s = _arrays(y_true, treatment, score)
    order = np.argsort(-s, kind="mergesort")
    decile = np.empty(y.size, dtype=int)
    decile[order] = np.arange(y.size) * bins // y.size + 1
    frame = pd.DataFrame({"decile": decile, "t": t, "c": 1 - t, "yt": y * t, "yc": y * (1 - t), "s": s})
    g = frame.groupby("decile", sort=True)
    out = pd.DataFrame({
        "n": g.size(),
        "n_treated": g["t"].sum().astype(int),
        "n_control": g["c"].sum().astype(int),
        "responses_treated": g["yt"].sum().astype(int),
        "responses_control": g["yc"].sum().astype(int),
        "mean_predicted_uplift": g["s"].mean(),
    }).reset_index()
    out["response_rate_treated"] = out["responses_treated"] / out["n_treated"].where(out["n_treated"] > 0)
    out["response_rate_control"] = out["responses_control"] / out["n_control"].where(out["n_control"] > 0)
    out["observed_uplift"] = out["response_rate_treated"] - out["response_rate_control"]
    return out[["decile", "n", "n_treated", "n_control", "responses_treated", "responses_control",
                "response_rate_treated", "response_rate_control", "observed_uplift",
                "mean_predicted_uplift"]]
