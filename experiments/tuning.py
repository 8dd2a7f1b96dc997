"""Optuna search over XGBoost hyper-parameters, cross-validated on the training part only.

The search uses a seeded TPE sampler and a :class:`optuna.pruners.MedianPruner` fed with the
running mean ROC-AUC after each cross-validation fold, so hopeless trials stop after one or two
folds. Each fold trains with early stopping on its validation fold; the number of trees of a
trial is the mean of its folds' best iterations (no ``n_estimators`` parameter is searched).
Training uses ``nthread=2`` and the ``hist`` tree method: the same data, seed and number of
trials give the same best parameters (a ``timeout`` can of course cut a search short).

Shared studies
--------------
Set ``KEQUN_OPTUNA_STORAGE`` to an Optuna RDB URL (e.g. ``sqlite:////shared/optuna.db`` or
``postgresql://user@host/optuna``) to keep the study in a database; several workers running
the same ``kequn train`` command then add trials to one study and each reports the best trial
found so far. The study name is ``KEQUN_OPTUNA_STUDY`` when set, else
``kequn-<task>-<table digest>-seed<seed>`` (same data and seed → same study). Without the
variable the study lives in memory.

A study is keyed (:func:`study_key`, :func:`claim_study`): the first process that opens it
records the task, the table digest and the split seed as study user attributes, and a later
process whose key differs is refused with one line. A shared ``KEQUN_OPTUNA_STUDY`` set for
a churn run can therefore never hand its ``best_trial`` to a propensity run or to a run on
another table (whose cross-validation scores would not be comparable).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

STORAGE_ENV = "KEQUN_OPTUNA_STORAGE"
STUDY_ENV = "KEQUN_OPTUNA_STUDY"
NTHREAD = 2
MAX_ROUNDS = 2000
EARLY_STOPPING_ROUNDS = 50


@dataclass
class TuningResult:
    """Outcome of :func:`tune_xgboost`."""

    study: Any  # optuna.Study
    best_params: dict[str, Any]
    best_score: float
    n_estimators: int
    n_trials: int
    n_pruned: int


def base_params(seed: int, scale_pos_weight: float) -> dict[str, Any]:
    """XGBoost parameters shared by every trial and the final model."""
    return {
        "objective": "binary:logistic",
        "eval_metric": "auc",
        "tree_method": "hist",
        "nthread": NTHREAD,
        "seed": seed,
        "scale_pos_weight": scale_pos_weight,
        "max_cat_to_onehot": 4,
        "verbosity": 0,
    }


def suggest_params(trial: Any) -> dict[str, Any]:
    """The search space (``n_estimators`` comes from early stopping)."""
    return {
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 20.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 20.0, log=True),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-3, 5.0, log=True),
        "gamma": trial.suggest_float("gamma", 1e-3, 5.0, log=True),
    }


#: A sensible first trial (close to XGBoost defaults, a little regularised): the search never
#: ends worse than a competent hand-tuned default.
DEFAULT_TRIAL = {"max_depth": 4, "learning_rate": 0.05, "min_child_weight": 1.0, "subsample": 0.8,
                 "colsample_bytree": 0.8, "reg_lambda": 1.0, "reg_alpha": 0.001, "gamma": 0.001}


def scale_pos_weight(y: pd.Series) -> float:
    """negatives / positives, the usual XGBoost re-weighting for class imbalance."""
    positives = float(y.sum())
    return float((len(y) - positives) / positives) if positives else 1.0


def cv_folds(y: pd.Series, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y.to_numpy()))


def study_name(task: str, digest: str, seed: int) -> str:
    return os.environ.get(STUDY_ENV, "").strip() or f"kequn-{task}-{digest}-seed{seed}"


#: The study user attributes that make up the key (see :func:`study_key`).
STUDY_KEY_ATTRS = ("kequn_task", "kequn_table_digest", "kequn_split_seed")


def study_key(task: str, digest: str, seed: int) -> dict[str, str]:
    """What a study's trials were scored on: the task, the table digest and the split seed.

    Two runs may share a study only when their keys are equal: the same seed on the same table
    gives the same training part and the same folds, so their trials' CV scores compare.
    """
    return dict(zip(STUDY_KEY_ATTRS, (str(task), str(digest), str(seed)), strict=True))


def claim_study(study: Any, key: dict[str, str]) -> None:
    """Record ``key`` on a new study, or check it on an existing one (fail closed).

    Threat: a shared ``KEQUN_OPTUNA_STUDY`` that holds trials of another task or table; its
    ``best_trial`` would be shipped as if it had been tuned on this data.

    Raises
    ------
    TrainingError
        The study already holds trials (or a key) of another task, table or split seed.
    """
    from kequn.errors import TrainingError

    found = {k: study.user_attrs.get(k) for k in key}
    if all(v is None for v in found.values()):
        if study.trials:
            raise TrainingError(f"Optuna study {study.study_name!r} already holds {len(study.trials)} trial(s) "
                                "with no task or table key; name a new study in "
                                f"{STUDY_ENV} (or unset it)")
        for k, v in key.items():
            study.set_user_attr(k, v)
        return
    differs = [k.removeprefix("kequn_") for k, v in key.items() if found[k] != v]
    if differs:
        raise TrainingError(f"Optuna study {study.study_name!r} was tuned on another "
                            f"{' and '.join(d.replace('_', ' ') for d in differs)} (task {found['kequn_task']}, "
                            f"table digest {found['kequn_table_digest']}); refusing to mix them: name a new study "
                            f"in {STUDY_ENV} (or unset it)")


def _create_study(optuna: Any, name: str, storage: str | None, seed: int, trials: int) -> Any:
    return optuna.create_study(
        study_name=name, storage=storage, load_if_exists=True, direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(trials // 3, 1))),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0),
    )


def xgboost_objective(X: pd.DataFrame, y: pd.Series, *, seed: int, n_folds: int,
                      nthread: int = NTHREAD) -> Callable[[Any], float]:
    """The Optuna objective: mean cross-validated ROC-AUC of a trial's parameters, pruned per fold.

    ``nthread``: XGBoost threads per fit (the parallel workers of :mod:`experiments.workers`
    share the cores between them).
    """
    import optuna
    import xgboost as xgb

    spw = scale_pos_weight(y)
    folds = cv_folds(y, n_folds, seed)
    dmats = [(xgb.DMatrix(X.iloc[tr], label=y.iloc[tr], enable_categorical=True, nthread=nthread),
              xgb.DMatrix(X.iloc[va], label=y.iloc[va], enable_categorical=True, nthread=nthread))
             for tr, va in folds]

    def objective(trial: Any) -> float:
        params = {**base_params(seed, spw), "nthread": nthread, **suggest_params(trial)}
        scores: list[float] = []
        rounds: list[int] = []
        for i, (dtrain, dvalid) in enumerate(dmats):
            booster = xgb.train(params, dtrain, num_boost_round=MAX_ROUNDS, evals=[(dvalid, "valid")],
                                early_stopping_rounds=EARLY_STOPPING_ROUNDS, verbose_eval=False)
            scores.append(float(booster.best_score))
            rounds.append(int(booster.best_iteration) + 1)
            trial.report(float(np.mean(scores)), step=i)
            if trial.should_prune():
                trial.set_user_attr("n_estimators", int(np.mean(rounds)))
                raise optuna.TrialPruned()
        trial.set_user_attr("n_estimators", int(round(np.mean(rounds))))
        trial.set_user_attr("cv_std", float(np.std(scores)))
        return float(np.mean(scores))

    return objective


def tune_xgboost(X: pd.DataFrame, y: pd.Series, *, seed: int, trials: int, timeout: float | None,
                 n_folds: int, name: str, key: dict[str, str] | None = None,
                 on_trial: Callable[[Any, Any], None] | None = None) -> TuningResult:
    """Search XGBoost hyper-parameters by cross-validated ROC-AUC.

    Parameters
    ----------
    X, y:
        Training part only (features with ``category`` columns, 0/1 target).
    seed:
        Seeds the TPE sampler, the folds and XGBoost.
    trials, timeout:
        Stop after this many trials (in this process) or seconds, whichever comes first.
    n_folds:
        Stratified cross-validation folds.
    name:
        Study name (see the module docstring for shared storage).
    key:
        :func:`study_key` of this run; checked against the study with :func:`claim_study`.
    on_trial:
        ``callback(study, frozen_trial)`` after each finished trial (used to log nested runs).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    objective = xgboost_objective(X, y, seed=seed, n_folds=n_folds)

    storage = os.environ.get(STORAGE_ENV, "").strip() or None
    try:
        study = _create_study(optuna, name, storage, seed, trials)
    except Exception as exc:  # a bad URL or an unreachable database
        from kequn.errors import TrainingError

        raise TrainingError(f"{STORAGE_ENV}: cannot open the Optuna study storage ({type(exc).__name__}); "
                            "check the database URL") from exc
    if key is not None:
        claim_study(study, key)
    if not study.trials:
        study.enqueue_trial(DEFAULT_TRIAL)
    callbacks = [on_trial] if on_trial is not None else None
    study.optimize(objective, n_trials=trials, timeout=timeout, callbacks=callbacks,
                   gc_after_trial=False, show_progress_bar=False)
    states = [t.state for t in study.trials]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        from kequn.errors import TrainingError

        raise TrainingError("no Optuna trial completed; raise --timeout or --trials")
    best = study.best_trial
    return TuningResult(
        study=study, best_params=dict(best.params), best_score=float(best.value),
        n_estimators=int(best.user_attrs.get("n_estimators", 100)), n_trials=len(study.trials),
        n_pruned=sum(s == optuna.trial.TrialState.PRUNED for s in states),
    )
