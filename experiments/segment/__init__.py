"""``kequn train --task segment``: value tiers (客户分层) combined with behavioural clusters.

- **Value tier**: the AUM thresholds of conf/segments.yaml (``value_tiers``, checked from the
  top: a customer gets the first tier whose ``min_aum`` they reach).
- **Behavioural segment**: KMeans on the table's behavioural features (of the shared feature
  selection of :func:`experiments.data.prepare`: no ids, tokens, labels, dates or protected
  attributes, those of :data:`BEHAVIOUR_FEATURES` and :data:`BEHAVIOUR_PREFIXES`: AUM and its
  mix, transaction count, recency and dormancy, salary share, channel shares, product holdings,
  tenure; event features such as campaign history, complaints, maturities or AUM changes only
  add noise dimensions and are used only when fewer than :data:`MIN_BEHAVIOUR_FEATURES`
  behavioural ones exist) plus the midpoint of ``age_band`` (age drives banking behaviour; it is used to
  describe segments, not to decide about a person). Skewed non-negative columns are
  ``log1p``-transformed, missing values imputed with the median, everything standardised
  except 0/1 flags, which are only centred and weighted by
  :data:`~experiments.segment.scaling.BINARY_WEIGHT` (the shared
  :class:`~experiments.encoding.TableEncoder` then
  :class:`~experiments.segment.scaling.SkewScaler`, one scikit-learn ``Pipeline``).
  The number of segments is chosen over :data:`K_RANGE` on a sample by :func:`choose_k`: the
  largest k at a local peak of the silhouette that is stable under bootstrap resampling (the
  global silhouette maximum favours few clusters: merging two real groups barely hurts it,
  while a peak after a dip means the k-th cluster is a real split). Stability is the mean
  adjusted Rand index (ARI) between a clustering and clusterings refitted on bootstrap
  resamples.
- **Personas**: per segment its size, AUM distribution, tier mix, age band and gender mix,
  product penetration, channel use, salary share, dormancy and churn rate; a plain-language
  label from the first matching rule of conf/segments.yaml ``personas`` and its strategy.

``--trials``/``--timeout`` are not used: the search over k is a small exhaustive grid.
Training never uses ground truth; the planted segments of the synthetic bank are compared in
``bench/bench_segment_uplift_truth.py`` and in the tests (ARI on data with known clusters).

Modules: :mod:`~experiments.segment.config` (conf/segments.yaml), :mod:`~experiments.segment.columns`
(which columns are clustered), :mod:`~experiments.segment.scaling` (the scaling estimator),
:mod:`~experiments.segment.selection` (k and stability), :mod:`~experiments.segment.personas`,
:mod:`~experiments.segment.model` (the logged pyfunc), :mod:`~experiments.segment.plots`,
:mod:`~experiments.segment.report` and :mod:`~experiments.segment.train` (the entry point).
"""

from experiments.segment.columns import _numeric_features, age_band_bounds
from experiments.segment.config import (
    PersonaRule,
    PersonaWhen,
    SegmentsConfig,
    ValueTierRule,
    load_segments_config,
)
from experiments.segment.model import SegmentModel, value_tiers
from experiments.segment.personas import match_persona, profile_segments
from experiments.segment.scaling import SkewScaler
from experiments.segment.selection import K_RANGE, bootstrap_stability, choose_k
from features.config import assign_value_tier

__all__ = [
    "K_RANGE",
    "PersonaRule",
    "PersonaWhen",
    "SegmentModel",
    "SegmentsConfig",
    "SkewScaler",
    "ValueTierRule",
    "age_band_bounds",
    "assign_value_tier",
    "bootstrap_stability",
    "choose_k",
    "load_segments_config",
    "match_persona",
    "profile_segments",
    "segment_encoder",
    "train_segment",
    "value_tiers",
]
_ = _numeric_features  # used by tests (the column choice); not public API

_LAZY = {"train_segment": "experiments.segment.train", "segment_encoder": "experiments.segment.train"}


def __getattr__(name: str):
    # The training entry point loads lazily: a logged model unpickles this package, and the
    # model ships only what that import needs (experiments/packaging.py), not the training loop.
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
