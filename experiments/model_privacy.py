"""Model privacy audit: membership-inference attacks on a trained binary or uplift model.

A model can leak who was in its training set even when its inputs are pseudonymised: an
overfitted model is more confident (lower loss) on the customers it saw. After training, every
churn/propensity and uplift candidate is attacked on its own training rows (*members*) against
the held-out rows (*non-members*, never seen by the model), with three attacks:

``threshold``
    Loss-threshold attack (Yeom et al. 2018): a row is called a member when the model's loss on
    it is low. No training; evaluated on every audited row.
``attack_model``
    Black-box attack model, as the Adversarial Robustness Toolbox's
    ``MembershipInferenceBlackBox`` with ``input_type="prediction"``: a random forest learns
    member vs non-member from (model output, observed label) on half of the rows with known
    membership and is scored on the other half (tests/test_model_privacy.py cross-checks it
    against ART on the same precomputed predictions).
``shadow``
    Shadow-model attack (Shokri et al. 2017): ``n_shadow`` models trained with the target's own
    recipe on random halves of a shadow pool give rows whose membership is known; an attack
    model learned on the shadows' outputs is applied to the target's outputs on the evaluation
    half (members and non-members the attack never saw).

Each attack gives a ROC-AUC of member vs non-member (0.5: no better than guessing) and the
membership advantage ``TPR - FPR`` at the best threshold (Yeom et al.; 0: no advantage). The
run logs ``privacy_mia_auc`` and ``privacy_mia_advantage`` = the worst case (maximum) over the
attacks, and ``privacy_mia_<attack>_auc`` / ``_advantage`` for each; ``privacy_mia_auc_lower`` is
the largest one-sided 95 % lower confidence bound of the attacks' AUCs (:func:`auc_lower_bound`),
what the shipped ``model_privacy`` gate judges (small audit sets are noisy). The best threshold is
picked on the evaluation rows themselves, so the advantage is an upper bound for that attack.

For a binary model the loss is the log-loss of the calibrated positive-class score and the
attack features are (score, label). An uplift model has no per-row label for its output; its
loss is the squared error of the uplift estimate against the transformed outcome
``y (t - e) / (e (1 - e))`` (an unbiased per-row target of the uplift) and the attack features are
(uplift, treatment, response).

Members are sampled to as many rows as there are non-members (at most ``max_rows`` each) so
that the attack sets are balanced; seeded, so a rerun gives the same numbers.

What it does not promise: these are attacks of a given strength; a low AUC is evidence that the
model does not separate its training customers from others with these attacks, not proof that no
stronger attack can (differential privacy, ``kequn train --dp-epsilon``, is the guarantee).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["ATTACKS", "KINDS", "attack_auc_advantage", "attack_features", "auc_lower_bound", "audit_family", "audit_membership",
           "audit_uplift", "per_row_loss", "summary_line"]

ATTACKS = ("threshold", "attack_model", "shadow")
KINDS = ("binary", "uplift")
MAX_ROWS = 4000
N_SHADOW = 2
EPS = 1e-6


def attack_auc_advantage(is_member: np.ndarray, member_score: np.ndarray) -> tuple[float, float]:
    """ROC-AUC of ``member_score`` for ``is_member`` and ``max(TPR - FPR)`` over thresholds."""
    from sklearn.metrics import roc_auc_score, roc_curve

    is_member = np.asarray(is_member, dtype=int)
    member_score = np.asarray(member_score, dtype=float)
    if np.unique(is_member).size < 2:
        return float("nan"), float("nan")
    fpr, tpr, _ = roc_curve(is_member, member_score)
    return float(roc_auc_score(is_member, member_score)), float(np.max(tpr - fpr))


def auc_lower_bound(auc: float, n_pos: int, n_neg: int, z: float = 1.645) -> float:
    """One-sided 95 % lower confidence bound of a ROC-AUC (Hanley & McNeil 1982 standard error).

    The audit sets of a small table are a few hundred rows, where an attack's AUC moves by
    several hundredths between seeds: the gate judges this bound, so that it rejects a model
    whose attack is above the limit beyond sampling noise, and reports the point estimate too.
    """
    if not np.isfinite(auc) or n_pos < 1 or n_neg < 1:
        return float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    return float(auc - z * np.sqrt(max(var, 0.0)))


def _labels(target: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    target = np.asarray(target, dtype=float)
    if kind == "uplift":
        return target[:, 1], target[:, 0]  # (response, treatment)
    return target.reshape(-1), None


def per_row_loss(pred: np.ndarray, target: np.ndarray, kind: str, propensity: float | None = None) -> np.ndarray:
    """Log-loss of a binary score, or the uplift estimate's squared error against the transformed outcome.

    ``target`` is the 0/1 label (binary) or an ``(n, 2)`` array of (treatment, response) (uplift);
    ``propensity`` is the treatment share ``e`` (default: the share in ``target``).
    """
    pred = np.asarray(pred, dtype=float)
    y, t = _labels(target, kind)
    if kind == "uplift":
        e = float(np.mean(t)) if propensity is None else float(propensity)
        e = min(max(e, EPS), 1 - EPS)
        z = y * (t - e) / (e * (1 - e))
        return (z - pred) ** 2
    p = np.clip(pred, EPS, 1 - EPS)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def attack_features(pred: np.ndarray, target: np.ndarray, kind: str) -> np.ndarray:
    """What a black-box attacker sees per row: the model output and the observed label(s).

    Binary: ``[1 - p, p, 1 - y, y]`` (ART's ``prediction`` input: class probabilities and the
    one-hot label); uplift: ``[uplift, treatment, response]``.
    """
    pred = np.asarray(pred, dtype=float)
    y, t = _labels(target, kind)
    if kind == "uplift":
        return np.column_stack([pred, t, y])
    return np.column_stack([1 - pred, pred, 1 - y, y])


def _attack_model(seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=100, min_samples_leaf=5,
                                                                  random_state=seed, n_jobs=1))


def _fit_attack_score(train_x: np.ndarray, train_member: np.ndarray, eval_x: np.ndarray, seed: int) -> np.ndarray:
    model = _attack_model(seed).fit(train_x, train_member)
    return model.predict_proba(eval_x)[:, 1]


def audit_membership(*, members: np.ndarray, nonmembers: np.ndarray, target: np.ndarray, kind: str,
                     predict: Callable[[np.ndarray], np.ndarray],
                     fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                     seed: int = 42, max_rows: int = MAX_ROWS, n_shadow: int = N_SHADOW) -> dict[str, float]:
    """Attack a trained model; returns the ``privacy_mia_*`` metrics (see the module docstring).

    Parameters
    ----------
    members, nonmembers:
        Row positions (into ``target`` and the data behind ``predict``) of the model's training
        rows and of held-out rows it never saw.
    target:
        Per-row labels: 0/1 (binary) or ``(n, 2)`` (treatment, response) (uplift), for all rows.
    kind:
        ``"binary"`` or ``"uplift"``.
    predict:
        The trained model's output (calibrated score or uplift) for the given row positions.
    fit_predict:
        The target's training recipe: ``fit_predict(train_rows, rows)`` trains a fresh model on
        ``train_rows`` and returns its output on ``rows``; ``None`` skips the shadow attack.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}. Got {kind!r}")
    rng = np.random.default_rng(seed)
    target = np.asarray(target)
    n = int(min(len(members), len(nonmembers), max_rows))
    if n < 20:
        return {}
    mem = rng.choice(np.asarray(members), size=n, replace=False)
    non = rng.choice(np.asarray(nonmembers), size=n, replace=False)
    rows = np.concatenate([mem, non])
    is_member = np.concatenate([np.ones(n, dtype=int), np.zeros(n, dtype=int)])
    pred = np.asarray(predict(rows), dtype=float)
    propensity = float(np.mean(target[:, 0])) if kind == "uplift" else None
    out: dict[str, float] = {}

    loss = per_row_loss(pred, target[rows], kind, propensity)
    out["privacy_mia_threshold_auc"], out["privacy_mia_threshold_advantage"] = \
        attack_auc_advantage(is_member, -loss)
    out["privacy_mia_threshold_auc_lower"] = auc_lower_bound(out["privacy_mia_threshold_auc"], n, n)

    # Halves: the attacker knows the membership of half A and is judged on half B.
    half = n // 2
    in_a, in_b = np.arange(half), np.arange(half, n)
    out_a, out_b = n + np.arange(half), n + np.arange(half, n)
    known, judged = np.concatenate([in_a, out_a]), np.concatenate([in_b, out_b])
    feats = attack_features(pred, target[rows], kind)
    score = _fit_attack_score(feats[known], is_member[known], feats[judged], seed)
    out["privacy_mia_attack_model_auc"], out["privacy_mia_attack_model_advantage"] = \
        attack_auc_advantage(is_member[judged], score)
    n_judged = int(is_member[judged].sum())
    out["privacy_mia_attack_model_auc_lower"] = auc_lower_bound(out["privacy_mia_attack_model_auc"], n_judged,
                                                                len(judged) - n_judged)

    if fit_predict is not None and n_shadow > 0:
        pool = rows[known]  # rows of half A: the attack never judges them
        shadow_x, shadow_member = [], []
        for _ in range(n_shadow):
            inside = rng.random(len(pool)) < 0.5
            if inside.all() or not inside.any():
                continue
            shadow_pred = np.asarray(fit_predict(pool[inside], pool), dtype=float)
            shadow_x.append(attack_features(shadow_pred, target[pool], kind))
            shadow_member.append(inside.astype(int))
        if shadow_x:
            score = _fit_attack_score(np.vstack(shadow_x), np.concatenate(shadow_member), feats[judged], seed)
            out["privacy_mia_shadow_auc"], out["privacy_mia_shadow_advantage"] = \
                attack_auc_advantage(is_member[judged], score)
            out["privacy_mia_shadow_auc_lower"] = auc_lower_bound(out["privacy_mia_shadow_auc"], n_judged,
                                                                  len(judged) - n_judged)
            out["privacy_mia_n_shadow"] = float(len(shadow_x))

    aucs = [out[f"privacy_mia_{a}_auc"] for a in ATTACKS if np.isfinite(out.get(f"privacy_mia_{a}_auc", np.nan))]
    advs = [out[f"privacy_mia_{a}_advantage"] for a in ATTACKS
            if np.isfinite(out.get(f"privacy_mia_{a}_advantage", np.nan))]
    lowers = [out[f"privacy_mia_{a}_auc_lower"] for a in ATTACKS
              if np.isfinite(out.get(f"privacy_mia_{a}_auc_lower", np.nan))]
    if lowers:
        out["privacy_mia_auc_lower"] = float(max(lowers))
    if aucs:
        out["privacy_mia_auc"] = float(max(aucs))
        out["privacy_mia_advantage"] = float(max(advs))
    out["privacy_mia_n_rows"] = float(2 * n)
    return out


def summary_line(metrics: dict[str, float]) -> str:
    """One readable line of the audit for the training summary."""
    if "privacy_mia_auc" not in metrics:
        return "model privacy: membership-inference audit skipped (too few rows)"
    parts = [f"{a} {metrics[f'privacy_mia_{a}_auc']:.3f}" for a in ATTACKS if f"privacy_mia_{a}_auc" in metrics]
    lower = (f", 95% lower bound {metrics['privacy_mia_auc_lower']:.3f}"
             if "privacy_mia_auc_lower" in metrics else "")
    return (f"model privacy: membership-inference AUC {metrics['privacy_mia_auc']:.3f} (worst of {', '.join(parts)}"
            f"{lower}), advantage {metrics['privacy_mia_advantage']:.3f}")


def audit_family(X: Any, y: Any, train_idx: np.ndarray, test_idx: np.ndarray, *, family: str, model: Any,
                 xgb_params: dict[str, Any] | None, n_estimators: int, class_weight: float,
                 seed: int) -> dict[str, float]:
    """Audit the shipped churn/propensity model of ``family`` (``experiments.choice``: logistic
    regression or XGBoost); shadows are trained with the same family, params and rounds."""
    from experiments.choice import fit_family, predict_family
    from experiments.model import undo_class_weight
    from experiments.tuning import scale_pos_weight

    def predict(rows: np.ndarray) -> np.ndarray:
        return undo_class_weight(predict_family(model, X.iloc[rows]), class_weight)

    def fit_predict(train_rows: np.ndarray, rows: np.ndarray) -> np.ndarray:
        y_fit = y.iloc[train_rows]
        shadow = fit_family(family, X.iloc[train_rows], y_fit, seed=seed, xgb_params=xgb_params,
                            n_estimators=n_estimators)
        return undo_class_weight(predict_family(shadow, X.iloc[rows]), scale_pos_weight(y_fit))

    return audit_membership(members=train_idx, nonmembers=test_idx, target=np.asarray(y, dtype=float),
                            kind="binary", predict=predict, fit_predict=fit_predict, seed=seed)


def audit_uplift(X: np.ndarray, t: np.ndarray, y: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray, *,
                 learner: Any, fit: Callable[[np.ndarray, np.ndarray, np.ndarray], Any],
                 seed: int) -> dict[str, float]:
    """Audit an uplift meta-learner (``learner.predict(X)``); ``fit(X, t, y)`` is its training recipe."""
    X = np.asarray(X, dtype=float)
    target = np.column_stack([np.asarray(t, dtype=float), np.asarray(y, dtype=float)])

    def fit_predict(train_rows: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return fit(X[train_rows], target[train_rows, 0], target[train_rows, 1]).predict(X[rows])

    return audit_membership(members=train_idx, nonmembers=test_idx, target=target, kind="uplift",
                            predict=lambda rows: learner.predict(X[rows]), fit_predict=fit_predict, seed=seed)
