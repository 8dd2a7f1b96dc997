"""``kequn train --task uplift``: who to contact in a campaign, by predicted incremental response.

Three meta-learners on XGBoost (``nthread=2``) estimate the conditional average treatment
effect (CATE, "uplift") of a binary treatment on a binary response:

- ``t_learner``: one classifier per arm; uplift = P(y | x, treated) - P(y | x, control).
- ``x_learner`` (Künzel et al. 2019): arm models impute individual effects, which two
  regressors learn; blended with the treatment share as the propensity (a randomised
  campaign has a constant propensity).
- ``transformed_outcome`` (class transformation generalised to any treatment share):
  ``z = y (t - e) / (e (1 - e))`` has expectation equal to the uplift; one regressor learns it.

Selection and tuning (documented choice): 30 % of the rows are held out for the test; on the
other 70 % every learner is fitted with the same default XGBoost parameters and scored by the
normalised Qini coefficient averaged over 3 validation folds (one validation split was too
noisy to choose between learners: uplift is a small difference of two rates). The best learner
is then tuned by Optuna on the same score (``--trials``/``--timeout`` trials for the chosen
learner only, the defaults enqueued first so tuning never returns worse-than-default
parameters), refitted on the 70 % and evaluated once on the held-out test split. A plain response model (a classifier of response
among treated customers, the usual "propensity to respond" targeting) is scored on the same
test split for comparison.

Bad input never yields a silent number: a missing or non-binary treatment, an empty or tiny
arm, or an arm without responses raise :class:`~kequn.errors.TrainingError`; an arm with
few responses or arms that look non-randomised produce explicit warnings in the summary and
the report.

Modules: :mod:`~experiments.uplift.learners` (the meta-learners, scikit-learn estimators),
:mod:`~experiments.uplift.arms` (arm checks), :mod:`~experiments.uplift.selection` (split,
cross-validated Qini, Optuna), :mod:`~experiments.uplift.targeting` (budgets, group profiles),
:mod:`~experiments.uplift.model` (the logged pyfunc), :mod:`~experiments.uplift.plots`,
:mod:`~experiments.uplift.report` and :mod:`~experiments.uplift.train` (the entry point). The
feature matrix comes from the shared :class:`~experiments.encoding.TableEncoder` (one-hot).
"""

from experiments.encoding import TableEncoder
from experiments.uplift.arms import arms_check, check_arms
from experiments.uplift.learners import (
    DEFAULT_PARAMS,
    LEARNERS,
    TLearner,
    TransformedOutcome,
    XLearner,
    default_min_child_weight,
    fit_learner,
)
from experiments.uplift.model import UpliftModel, plain_columns

__all__ = [
    "DEFAULT_PARAMS",
    "LEARNERS",
    "TLearner",
    "TableEncoder",
    "TransformedOutcome",
    "UpliftModel",
    "XLearner",
    "arms_check",
    "check_arms",
    "default_min_child_weight",
    "fit_learner",
    "plain_columns",
    "train_uplift",
]

_LAZY = {"train_uplift": "experiments.uplift.train"}


def __getattr__(name: str):
    # The training entry point loads lazily: a logged model unpickles this package, and the
    # model ships only what that import needs (experiments/packaging.py), not the training loop.
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
