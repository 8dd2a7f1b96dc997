"""The monitoring reference's bins and the PSI (experiments/reference.py), without MLflow."""

from __future__ import annotations

import numpy as np
import pandas as pd


def test_psi_and_reference_bins():
    from experiments.reference import bin_spec, distribution, psi

    rng = np.random.default_rng(0)
    train = pd.Series(rng.normal(size=5000))
    spec = bin_spec(train)
    assert spec["kind"] == "numeric" and len(spec["shares"]) == len(spec["edges"]) + 2
    assert psi(spec["shares"], distribution(pd.Series(rng.normal(size=5000)), spec)) < 0.02
    small, large = (psi(spec["shares"], distribution(pd.Series(rng.normal(loc=m, size=5000)), spec))
                    for m in (0.3, 1.0))
    assert 0.05 < small < large and large > 0.25
    cats = pd.Series(["a"] * 50 + ["b"] * 40 + ["rare"] * 3)
    cspec = bin_spec(cats)
    assert cspec["values"] == ["a", "b"]  # a category of fewer than 5 customers is not named
    assert distribution(pd.Series(["a", "rare", None, "zzz"]), cspec) == [0.25, 0.0, 0.5, 0.25]


def test_discrete_columns_and_outputs():
    from experiments.reference import bin_spec, distribution, output_frame, psi

    flags = pd.Series([0] * 60 + [1] * 40 + [np.nan] * 10)
    spec = bin_spec(flags)
    assert spec["kind"] == "discrete" and spec["values"] == [0.0, 1.0]
    assert distribution(flags, spec) == spec["shares"] and psi(spec["shares"], spec["shares"]) == 0.0
    assert output_frame("churn", np.array([0.1, 0.2])).columns.tolist() == ["churn_probability"]
    assert output_frame("uplift", np.array([0.1])).columns.tolist() == ["uplift"]
    assert output_frame("propensity", np.array([[0.7, 0.3]]))["propensity_probability"].tolist() == [0.3]
