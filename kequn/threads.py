"""OpenMP threads wait passively: importing this module sets ``OMP_WAIT_POLICY=PASSIVE``.

XGBoost's and scikit-learn's OpenMP threads busy-wait by default; on a shared or oversubscribed
machine that makes a small ``nthread=2`` fit up to 100x slower (measured: 87 s vs 0.8 s, see
bench/RESULTS.md). The variable is read once, when the first OpenMP runtime loads, so every
module that may load one (experiments/, the CLI root) imports this module before numpy,
scikit-learn or xgboost. A value the user already set is kept.
"""

from __future__ import annotations

import os

__all__ = ["OMP_WAIT_POLICY", "passive_openmp"]

OMP_WAIT_POLICY = "PASSIVE"


def passive_openmp() -> str:
    """Set ``OMP_WAIT_POLICY`` to passive unless already set; return the value in force."""
    return os.environ.setdefault("OMP_WAIT_POLICY", OMP_WAIT_POLICY)


passive_openmp()
