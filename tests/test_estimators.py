"""The learners and encoders follow scikit-learn's estimator contract: ``clone`` + refit gives the
same predictions, ``get_params`` round-trips, ``__init__`` only stores, and the plain numeric
transformer passes ``check_estimator``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_estimator

from experiments.encoding import TableEncoder
from experiments.segment import SkewScaler, segment_encoder
from experiments.uplift import TLearner, TransformedOutcome, XLearner
from tests.test_uplift import planted


def _campaign(n=600, seed=0):
    frame, _ = planted(n, seed)
    enc = TableEncoder(exclude=("customer_no", "treatment", "response")).fit(frame)
    return enc.transform(frame).to_numpy(), frame["treatment"].to_numpy(), frame["response"].to_numpy()


@pytest.mark.parametrize("cls", [TLearner, XLearner, TransformedOutcome])
def test_uplift_learner_clone_and_refit_predict_the_same(cls):
    X, t, y = _campaign()
    learner = cls(params={"n_estimators": 20, "max_depth": 2}, random_state=3)
    assert not [k for k in vars(learner) if k.endswith("_")]  # __init__ only stores
    first = learner.fit(X, t, y).predict(X)
    twin = clone(learner)
    assert twin.get_params() == learner.get_params() == {"params": {"n_estimators": 20, "max_depth": 2},
                                                        "random_state": 3}
    assert not hasattr(twin, "xgb_params_")  # clone carries no learned state
    np.testing.assert_array_equal(twin.fit(X, t, y).predict(X), first)
    assert learner.xgb_params_["n_estimators"] == 20 and learner.params == {"n_estimators": 20, "max_depth": 2}
    other = clone(learner).set_params(random_state=4).fit(X, t, y).predict(X)
    assert not np.array_equal(other, first)  # the seed is a real hyper-parameter


@pytest.mark.parametrize("kwargs", [
    {"exclude": ("customer_no", "treatment", "response")},  # uplift: one-hot, at most 30 levels
    {"columns": ["x0", "x1", "gender", "age_band"], "one_hot": False, "max_categories": None},  # binary
])
def test_table_encoder_clone_refit_and_spec_round_trip(kwargs):
    frame, _ = planted(200)
    enc = TableEncoder(**kwargs)
    params = enc.get_params()
    out = enc.fit(frame).transform(frame)
    assert enc.get_params() == params  # fit does not rewrite its init fields
    pd.testing.assert_frame_equal(clone(enc).fit(frame).transform(frame), out)
    again = TableEncoder.from_dict(enc.to_dict(), one_hot=enc.one_hot).transform(frame)
    pd.testing.assert_frame_equal(again, out)


def test_segment_encoder_clone_and_refit():
    frame, _ = planted(300)
    enc = segment_encoder(["x0", "x1", "x2"])
    Z = enc.fit(frame).transform(frame)
    assert enc.get_params()["encode__columns"] == ["x0", "x1", "x2"]
    np.testing.assert_array_equal(clone(enc).fit(frame).transform(frame), Z)
    assert np.allclose(Z.mean(axis=0), 0) and np.allclose(Z.std(axis=0), 1)


def test_skew_scaler_logs_skewed_columns_and_damps_flags():
    r = np.random.default_rng(0)
    X = np.c_[r.lognormal(0, 2, 500), r.normal(size=500), (r.random(500) < 0.4).astype(float)]
    X[::7, 1] = np.nan
    scaler = SkewScaler().fit(X)
    assert scaler.log_mask_.tolist() == [True, False, False] and scaler.binary_mask_.tolist() == [False, False, True]
    Z = scaler.transform(X)
    assert not np.isnan(Z).any() and Z[:, 2].std() == pytest.approx(0.5 * X[:, 2].std())


def test_skew_scaler_passes_check_estimator():
    check_estimator(SkewScaler())
