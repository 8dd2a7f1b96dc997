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
  except 0/1 flags, which are only centred and weighted by :data:`BINARY_WEIGHT`.
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
``bench/bench_segment_truth.py`` and in the tests (ARI on data with known clusters).
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# OpenMP threads (XGBoost, scikit-learn) spin while idle by default: on a shared 2-core machine
# that makes nthread=2 many times slower. Set before the first OpenMP runtime starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd
from mlflow.pyfunc import PythonModel
from pydantic import Field, ValidationError

from kequn import console
from kequn.config import StrictConfig
from kequn.errors import ConfigError, TrainingError

__all__ = [
    "K_RANGE",
    "SegmentEncoder",
    "SegmentModel",
    "SegmentsConfig",
    "age_band_bounds",
    "assign_value_tier",
    "choose_k",
    "load_segments_config",
    "match_persona",
    "profile_segments",
    "train_segment",
]

K_RANGE = range(3, 9)
#: Rows used to choose k and to measure the silhouette (KMeans itself is fitted on all rows).
SAMPLE_ROWS = 3000
SILHOUETTE_ROWS = 2000
BOOTSTRAPS = 5
#: Bootstrap refits per candidate k when choosing k.
K_BOOTSTRAPS = 3
#: A candidate k needs at least this mean bootstrap ARI ...
STABLE_ARI = 0.8
#: ... and at least this fraction of the best silhouette over the candidates.
PEAK_TOLERANCE = 0.8
#: Behavioural features clustered on when present (plus the columns starting with a prefix of
#: :data:`BEHAVIOUR_PREFIXES`).
BEHAVIOUR_FEATURES = ("aum", "aum_deposit", "aum_wealth", "aum_fund", "aum_insurance", "txn_count_180d",
                      "recency_days", "salary_share_90d", "dormancy_days", "n_products",
                      "credit_card_utilisation", "loan_outstanding", "digital_share", "tenure_days")
BEHAVIOUR_PREFIXES = ("holds_", "share_")
#: Fewer behavioural features than this: cluster on every numeric feature instead.
MIN_BEHAVIOUR_FEATURES = 3
#: Fewest rows a segmentation needs.
MIN_ROWS = 40
#: A segment smaller than this is not profiled (no near-individual aggregates in reports).
MIN_PROFILE_SIZE = 10
#: |skew| above this on a non-negative column: log1p before scaling.
SKEW_LOG = 2.0
#: 0/1 indicator columns are centred, not standardised, and scaled to this spread: a rare flag
#: standardised to unit variance would split every cluster in two by itself.
BINARY_WEIGHT = 0.5
AUM_COLUMN = "aum"
AGE_COLUMN = "age_band"
AGE_FEATURE = "age_band_mid"
UNKNOWN = "unknown"


# --------------------------------------------------------------------------- configuration

_Strict = StrictConfig


class ValueTierRule(_Strict):
    name: str
    label_zh: str = ""
    min_aum: float = Field(ge=0)
    strategy: str = ""


class PersonaWhen(_Strict):
    """Conditions on a segment's profile; all given ones must hold (empty = always)."""

    min_aum_median: float | None = None
    max_age_band_upper: float | None = None
    min_age_band_lower: float | None = None
    min_digital_share: float | None = None
    min_salary_share: float | None = None
    min_dormancy_days: float | None = None


class PersonaRule(_Strict):
    name: str
    label_zh: str = ""
    when: PersonaWhen = PersonaWhen()
    strategy: str = ""


class SegmentsConfig(_Strict):
    value_tiers: list[ValueTierRule] = Field(min_length=1)
    lifecycle_strategies: dict[str, str] = Field(default_factory=dict)
    personas: list[PersonaRule] = Field(default_factory=list)

    def tiers_desc(self) -> list[ValueTierRule]:
        return sorted(self.value_tiers, key=lambda t: t.min_aum, reverse=True)


def load_segments_config(path: str | Path | None = None) -> SegmentsConfig:
    """Read and validate conf/segments.yaml (or ``path``); unknown keys are an error."""
    from conf import default_path
    from kequn.config import read_yaml_mapping

    path = Path(path) if path is not None else default_path("segments.yaml")
    raw = read_yaml_mapping(path)
    try:
        return SegmentsConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise ConfigError(f"{path}: {where}: {err['msg']}") from exc


# --------------------------------------------------------------------------- helpers

_BAND = re.compile(r"^\s*(\d+)\s*[-–~]\s*(\d+)\s*$")
_PLUS = re.compile(r"^\s*(\d+)\s*\+\s*$")


def age_band_bounds(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper age of bands like ``30-39`` or ``80+`` (NaN when unknown).

    Each distinct band is parsed once and broadcast back.
    """
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    lo = np.full(len(uniques) + 1, np.nan)
    hi = np.full(len(uniques) + 1, np.nan)
    for i, band in enumerate(uniques):
        m = _BAND.match(str(band))
        if m:
            lo[i], hi[i] = float(m.group(1)), float(m.group(2))
        elif (p := _PLUS.match(str(band))):
            lo[i], hi[i] = float(p.group(1)), float(p.group(1)) + 19.0
    return lo[codes], hi[codes]  # code -1 (missing) picks the trailing NaN


def assign_value_tier(aum: pd.Series | np.ndarray, tiers: list[ValueTierRule]) -> np.ndarray:
    """The first tier (from the highest ``min_aum``) each AUM reaches; ``unknown`` when missing."""
    values = pd.to_numeric(pd.Series(np.asarray(aum)), errors="coerce").to_numpy(dtype=float)
    ordered = sorted(tiers, key=lambda t: t.min_aum, reverse=True)
    conditions = [values >= t.min_aum for t in ordered]
    out = np.select(conditions, [t.name for t in ordered], default=ordered[-1].name).astype(object)
    out[np.isnan(values)] = UNKNOWN
    return out


@dataclass
class SegmentEncoder:
    """Numeric features → imputed, log-transformed where skewed, standardised matrix."""

    columns: list[str] = field(default_factory=list)
    use_age: bool = False
    log_columns_: list[str] = field(default_factory=list)
    binary_columns_: list[str] = field(default_factory=list)
    median_: dict[str, float] = field(default_factory=dict)
    mean_: dict[str, float] = field(default_factory=dict)
    scale_: dict[str, float] = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        return self.columns + ([AGE_FEATURE] if self.use_age else [])

    @property
    def input_columns(self) -> list[str]:
        return self.columns + ([AGE_COLUMN] if self.use_age else [])

    def _raw(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            raise TrainingError(f"the table lacks column(s) the segment model needs: {', '.join(missing[:5])}")
        out = frame[self.columns].apply(pd.to_numeric, errors="coerce").astype(float)
        if self.use_age:
            lo, hi = age_band_bounds(frame[AGE_COLUMN])
            out[AGE_FEATURE] = (lo + hi) / 2.0
        return out

    def fit(self, frame: pd.DataFrame) -> SegmentEncoder:
        raw = self._raw(frame)
        keep = [c for c in raw.columns if raw[c].notna().any() and raw[c].nunique() > 1]
        self.columns = [c for c in self.columns if c in keep]
        self.use_age = self.use_age and AGE_FEATURE in keep
        raw = raw[self.feature_names]
        self.log_columns_ = [c for c in raw.columns if raw[c].min() >= 0 and abs(raw[c].skew()) > SKEW_LOG]
        raw[self.log_columns_] = np.log1p(raw[self.log_columns_])
        self.median_ = raw.median().to_dict()
        filled = raw.fillna(self.median_)
        self.mean_ = filled.mean().to_dict()
        scale = filled.std(ddof=0).replace(0, 1.0)
        binary = [c for c in filled.columns if filled[c].isin((0, 1)).all()]
        scale[binary] = 1.0 / BINARY_WEIGHT
        self.binary_columns_ = binary
        self.scale_ = scale.to_dict()
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        if not self.mean_:
            raise RuntimeError("SegmentEncoder is not fitted")
        raw = self._raw(frame)[self.feature_names]
        raw[self.log_columns_] = np.log1p(raw[self.log_columns_].clip(lower=0))
        filled = raw.fillna(self.median_)
        return ((filled - pd.Series(self.mean_)) / pd.Series(self.scale_)).to_numpy(dtype=float)


def _kmeans(k: int, seed: int):
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=4, random_state=seed)


def choose_k(Z: np.ndarray, *, seed: int,
             k_range: range = K_RANGE) -> tuple[int, dict[int, float], dict[int, float]]:
    """Choose the number of segments on (a sample of) ``Z``.

    For every k of ``k_range``: the silhouette of KMeans and its stability (mean ARI of
    :data:`K_BOOTSTRAPS` refits on bootstrap resamples). Candidates are the stable k (mean ARI
    at least :data:`STABLE_ARI`) whose silhouette is at least :data:`PEAK_TOLERANCE` of the best
    and a local peak (above the k just below, not below the k just above); the largest
    candidate wins. Without candidates, the best silhouette among the stable k (or all k).

    Returns
    -------
    tuple
        The chosen k, the silhouette per k and the stability per k.
    """
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    rng = np.random.default_rng(seed)
    sample = Z[rng.choice(len(Z), size=min(len(Z), SAMPLE_ROWS), replace=False)]
    scores: dict[int, float] = {}
    stability: dict[int, float] = {}
    for k in k_range:
        if k >= len(sample):
            break
        labels = _kmeans(k, seed).fit_predict(sample)
        if np.unique(labels).size < 2:
            continue
        scores[k] = float(silhouette_score(sample, labels, sample_size=min(len(sample), SILHOUETTE_ROWS),
                                           random_state=seed))
        boots = [_kmeans(k, seed + 100 + b).fit(sample[rng.integers(0, len(sample), len(sample))]).predict(sample)
                 for b in range(K_BOOTSTRAPS)]
        stability[k] = float(np.mean([adjusted_rand_score(labels, b) for b in boots]))
    if not scores:
        raise TrainingError("no clustering with at least 2 segments could be fitted; the features do not vary")
    stable = [k for k in scores if stability[k] >= STABLE_ARI] or list(scores)
    top = max(scores[k] for k in stable)
    peaks = [k for k in stable
             if scores[k] >= PEAK_TOLERANCE * top
             and scores[k] > scores.get(k - 1, -np.inf) and scores[k] >= scores.get(k + 1, -np.inf)]
    best = max(peaks) if peaks else max(stable, key=lambda k: scores[k])
    return best, scores, stability


def bootstrap_stability(Z: np.ndarray, k: int, reference: np.ndarray, *, seed: int,
                        n_boot: int = BOOTSTRAPS) -> list[float]:
    """ARI between ``reference`` labels and KMeans refitted on bootstrap resamples (on a sample)."""
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(seed + 1)
    idx = rng.choice(len(Z), size=min(len(Z), SAMPLE_ROWS), replace=False)
    sample, ref = Z[idx], reference[idx]
    scores = []
    for b in range(n_boot):
        boot = sample[rng.integers(0, len(sample), len(sample))]
        labels = _kmeans(k, seed + 100 + b).fit(boot).predict(sample)
        scores.append(float(adjusted_rand_score(ref, labels)))
    return scores


# --------------------------------------------------------------------------- personas

def _col(frame: pd.DataFrame, name: str) -> pd.Series | None:
    return pd.to_numeric(frame[name], errors="coerce") if name in frame.columns else None


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def profile_segments(frame: pd.DataFrame, segments: np.ndarray, tiers: np.ndarray) -> list[dict[str, Any]]:
    """One profile per segment (aggregates only; segments under :data:`MIN_PROFILE_SIZE` rows
    get their size and nothing else)."""
    n_all = len(frame)
    work = frame.reset_index(drop=True)
    if AGE_COLUMN in work.columns:
        lo, hi = age_band_bounds(work[AGE_COLUMN])
        work = work.assign(_age_lo=lo, _age_hi=hi)
    holds = [c for c in work.columns if c.startswith("holds_")]
    shares = [c for c in work.columns if c.startswith("share_")]
    profiles = []
    for seg in np.unique(segments):
        mask = segments == seg
        part = work.loc[mask]
        prof: dict[str, Any] = {"segment": int(seg), "size": int(mask.sum()), "share": float(mask.mean()),
                                "profiled": bool(mask.sum() >= MIN_PROFILE_SIZE)}
        if not prof["profiled"]:
            profiles.append(prof)
            continue
        aum = _col(part, AUM_COLUMN)
        if aum is not None and aum.notna().any():
            q = aum.quantile([0.25, 0.5, 0.75])
            prof.update(aum_p25=_finite(q[0.25]), aum_median=_finite(q[0.5]), aum_p75=_finite(q[0.75]),
                        aum_mean=_finite(aum.mean()))
        tier_mix = pd.Series(tiers[mask]).value_counts(normalize=True)
        prof["value_tier_mix"] = {str(k): float(v) for k, v in tier_mix.items()}
        if "_age_lo" in part.columns:
            bands = part[AGE_COLUMN].astype("string").value_counts(normalize=True, dropna=True)
            prof["age_band_mode"] = str(bands.index[0]) if len(bands) else None
            prof["age_band_mix"] = {str(k): float(v) for k, v in bands.head(6).items()}
            prof["age_band_lower_median"] = _finite(part["_age_lo"].median())
            prof["age_band_upper_median"] = _finite(part["_age_hi"].median())
        if "gender" in part.columns:
            g = part["gender"].astype("string").fillna(UNKNOWN).value_counts(normalize=True)
            prof["gender_mix"] = {str(k): float(v) for k, v in g.items()}
        if holds:
            prof["product_penetration"] = {c.removeprefix("holds_"): _finite(_col(part, c).mean()) for c in holds}
        if "n_products" in part.columns:
            prof["n_products_mean"] = _finite(_col(part, "n_products").mean())
        if shares:
            prof["channel_use"] = {c.removeprefix("share_"): _finite(_col(part, c).mean()) for c in shares}
        for out, col, how in (("digital_share", "digital_share", "mean"),
                              ("salary_share", "salary_share_90d", "mean"),
                              ("dormancy_days_median", "dormancy_days", "median"),
                              ("churn_rate", "churn_label", "mean")):
            series = _col(part, col)
            if series is not None and series.notna().any():
                prof[out] = _finite(getattr(series, how)())
        if "digital_share" not in prof and {"share_mobile_app", "share_online"} <= set(shares):
            prof["digital_share"] = _finite((_col(part, "share_mobile_app") + _col(part, "share_online")).mean())
        prof["share_of_all"] = float(mask.sum() / n_all)
        profiles.append(prof)
    return profiles


_RULE_STATS = {
    "min_aum_median": ("aum_median", ">="),
    "max_age_band_upper": ("age_band_upper_median", "<="),
    "min_age_band_lower": ("age_band_lower_median", ">="),
    "min_digital_share": ("digital_share", ">="),
    "min_salary_share": ("salary_share", ">="),
    "min_dormancy_days": ("dormancy_days_median", ">="),
}


def match_persona(profile: dict[str, Any], personas: list[PersonaRule]) -> PersonaRule | None:
    """The first persona whose every condition holds for ``profile`` (a missing statistic fails)."""
    for persona in personas:
        ok = True
        for key, bound in persona.when.model_dump().items():
            if bound is None:
                continue
            stat, op = _RULE_STATS[key]
            value = profile.get(stat)
            if value is None or not (value >= bound if op == ">=" else value <= bound):
                ok = False
                break
        if ok:
            return persona
    return None


# --------------------------------------------------------------------------- model

with warnings.catch_warnings():
    # MLflow warns at class creation that predict has no type hints; the signature is explicit.
    warnings.simplefilter("ignore", UserWarning)

    class SegmentModel(PythonModel):
        """The logged model: a clean customer row in; ``segment``, ``persona``, ``value_tier`` out."""

        def __init__(self, encoder: SegmentEncoder, kmeans, personas: dict[int, str],
                     tiers: list[ValueTierRule]) -> None:
            super().__init__()
            self.encoder = encoder
            self.kmeans = kmeans
            self.personas = personas
            self.tiers = tiers

        def assign(self, frame: pd.DataFrame) -> pd.DataFrame:
            segments = self.kmeans.predict(self.encoder.transform(frame)).astype(np.int64)
            persona = pd.Series(segments).map(self.personas).fillna(UNKNOWN).astype(str).to_numpy()
            tier = (assign_value_tier(frame[AUM_COLUMN], self.tiers) if AUM_COLUMN in frame.columns
                    else np.full(len(frame), UNKNOWN, dtype=object))
            return pd.DataFrame({"segment": segments, "persona": persona, "value_tier": tier.astype(str)})

        def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
            """Segment id, persona name and value tier per row."""
            return self.assign(pd.DataFrame(model_input))


def _signature(frame: pd.DataFrame, encoder: SegmentEncoder):
    """Input: the feature columns (and ``aum`` for the tier), typed as in training; no id."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    from experiments.signature import input_schema

    cols = list(encoder.input_columns)
    if AUM_COLUMN in frame.columns and AUM_COLUMN not in cols:
        cols.append(AUM_COLUMN)
    inputs = input_schema(frame, cols, optional=(AGE_COLUMN,))
    outputs = Schema([ColSpec("long", "segment"), ColSpec("string", "persona"), ColSpec("string", "value_tier")])
    return ModelSignature(inputs=inputs, outputs=outputs)


# --------------------------------------------------------------------------- training

def _numeric_features(frame: pd.DataFrame, prepared: Any, id_col: str | None,
                      protected: list[str]) -> list[str]:
    if prepared is None and importlib.util.find_spec("experiments.data") is not None:
        from experiments import data as data_mod

        if hasattr(data_mod, "prepare"):
            prepared = data_mod.prepare(frame, task="segment", id_col=id_col, protected=protected)
    if prepared is not None:
        cats = set(prepared.spec.categories)
        numeric = [c for c in prepared.spec.features if c not in cats]
    else:
        skip = {id_col, "churn_label", "propensity_label", "treatment", "response", "segment", "value_tier"}
        numeric = [c for c in frame.columns if c not in skip and pd.api.types.is_numeric_dtype(frame[c])
                   and not pd.api.types.is_bool_dtype(frame[c])]
    behaviour = [c for c in numeric if c in BEHAVIOUR_FEATURES or c.startswith(BEHAVIOUR_PREFIXES)]
    return behaviour if len(behaviour) >= MIN_BEHAVIOUR_FEATURES else numeric


def _plots(Z: np.ndarray, segments: np.ndarray, frame: pd.DataFrame, scores: dict[int, float],
           names: dict[int, str]) -> dict[str, bytes]:

    # No matplotlib.use("Agg"): headless runs fall back to Agg by themselves, and forcing it
    # would switch off inline plots in the notebook that called us.
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    from experiments.plots import png_bytes as png

    out = {}
    ids = sorted(np.unique(segments))
    labels = [f"S{i}" for i in ids]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(labels, [int((segments == i).sum()) for i in ids], color="#4c72b0")
    ax.set_ylabel("customers")
    ax.set_title("Segment sizes")
    out["segment_sizes.png"] = png(fig)

    if AUM_COLUMN in frame.columns:
        aum = pd.to_numeric(frame[AUM_COLUMN], errors="coerce").to_numpy()
        data = [np.log10(np.clip(aum[(segments == i) & np.isfinite(aum)], 1, None)) for i in ids]
        if all(len(d) for d in data):
            fig, ax = plt.subplots(figsize=(6, 3.5))
            ax.boxplot(data, showfliers=False)
            ax.set_xticks(range(1, len(ids) + 1), labels)
            ax.set_ylabel("log10 AUM (CNY)")
            ax.set_title("AUM by segment")
            out["aum_by_segment.png"] = png(fig)

    rng = np.random.default_rng(0)
    idx = rng.choice(len(Z), size=min(len(Z), 2000), replace=False)
    xy = PCA(n_components=2, random_state=0).fit_transform(Z[idx]) if Z.shape[1] >= 2 else np.c_[Z[idx], Z[idx]]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for i in ids:
        m = segments[idx] == i
        ax.scatter(xy[m, 0], xy[m, 1], s=6, alpha=0.6, label=f"S{i} {names.get(i, '')}")
    ax.set_xlabel("PC1")
    ax.set_ylabel("PC2")
    ax.set_title("Segments on the first two principal components (sample)")
    ax.legend(fontsize=7, markerscale=2)
    out["segments_pca.png"] = png(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(list(scores), list(scores.values()), "o-")
    ax.set_xlabel("number of segments k")
    ax.set_ylabel("silhouette")
    ax.set_title("Choice of k")
    out["silhouette_by_k.png"] = png(fig)
    return out


def train_segment(*, task: str = "segment", data: str | Path, label: str | None = None,
                  positive: str | None = None, treatment: str | None = None, id_col: str | None = None,
                  protected: list[str] | None = None, trials: int = 20, timeout: float | None = None,
                  experiment: str | None = None, seed: int = 42, prepared: Any = None,
                  frame: pd.DataFrame | None = None, lineage: Any = None, digest: str | None = None,
                  config: str | Path | None = None) -> dict[str, Any]:
    """Segment customers (value tier × behavioural cluster), profile personas, log one MLflow run.

    Parameters
    ----------
    data:
        Pseudonymised Parquet table, one row per customer (a feature table is best).
    label, positive, treatment:
        Not used (segmentation is unsupervised); accepted for the dispatcher's uniform call.
    id_col, protected:
        Id column (never a feature) and extra protected attributes (not clustered on).
    trials, timeout:
        Not used: k is chosen by an exhaustive grid over :data:`K_RANGE`.
    experiment, seed:
        MLflow experiment name (default ``kequn-segment``) and random seed.
    prepared, frame, lineage, digest:
        Passed by :func:`experiments.train.run_training`; loaded here when not given.
    config:
        conf/segments.yaml by default.

    Returns
    -------
    dict
        ``{"run_id", "metrics", "summary"}`` with metrics ``silhouette``, ``n_segments``,
        ``stability_ari`` and more.

    Raises
    ------
    TrainingError
        Too few rows or no usable numeric feature (one line).
    """
    import mlflow

    from experiments.packaging import model_env
    from experiments.segment_report import write_segment_report
    from experiments.uplift import _load, tracked_run

    del label, positive, treatment, timeout
    cfg = load_segments_config(config)
    path = Path(data)
    if frame is None or lineage is None:
        with console.stage("load clean table") as st:
            frame, lineage = _load(path)
            st.done(f"{len(frame)} rows, {frame.shape[1]} columns")
            prepared = None
    frame = frame.reset_index(drop=True)
    if len(frame) < MIN_ROWS:
        raise TrainingError(f"{path}: segmentation needs at least {MIN_ROWS} customers. Got {len(frame)} rows")
    if id_col and id_col not in frame.columns:
        raise TrainingError(f"{path}: --id column {id_col!r} not found")
    id_name = id_col or ("customer_no" if "customer_no" in frame.columns else None)
    if id_name and frame[id_name].duplicated().any():
        raise TrainingError(f"{path}: column {id_name!r} repeats customers; segmentation needs one row per "
                            "customer (use the feature table of `kequn features`)")
    protected = list(protected or [])
    numeric = _numeric_features(frame, prepared, id_name, protected)
    use_age = AGE_COLUMN in frame.columns and AGE_COLUMN not in protected
    encoder = SegmentEncoder(columns=numeric, use_age=use_age).fit(frame)
    if len(encoder.feature_names) < 2:
        raise TrainingError(f"{path}: segmentation needs at least 2 varying numeric features. "
                            f"Got {len(encoder.feature_names)}")
    warnings_out: list[str] = []
    if AUM_COLUMN not in frame.columns:
        warnings_out.append(f"no {AUM_COLUMN!r} column: value tiers are 'unknown'")
    Z = encoder.transform(frame)

    with console.stage(f"choose the number of segments (k in {K_RANGE.start}..{K_RANGE.stop - 1})") as st:
        k_range = range(K_RANGE.start, min(K_RANGE.stop, len(frame) // 5 + 1))
        if len(k_range) == 0:
            k_range = range(2, 3)
        k, scores, k_stability = choose_k(Z, seed=seed, k_range=k_range)
        st.done(", ".join(f"k={kk} {v:.3f}/{k_stability[kk]:.2f}" for kk, v in scores.items()) + f" → k={k}")
    with console.stage("fit segments and check stability") as st:
        kmeans = _kmeans(k, seed).fit(Z)
        segments = kmeans.labels_.astype(int)
        stability = bootstrap_stability(Z, k, segments, seed=seed)
        st.done(f"mean bootstrap ARI {np.mean(stability):.3f}")
    tiers = (assign_value_tier(frame[AUM_COLUMN], cfg.value_tiers) if AUM_COLUMN in frame.columns
             else np.full(len(frame), UNKNOWN, dtype=object))
    profiles = profile_segments(frame, segments, tiers)
    tier_strategy = {t.name: t for t in cfg.value_tiers}
    names: dict[int, str] = {}
    for prof in profiles:
        persona = match_persona(prof, cfg.personas) if prof["profiled"] else None
        prof["persona"] = persona.name if persona else UNKNOWN
        prof["persona_label_zh"] = persona.label_zh if persona else ""
        prof["strategy"] = persona.strategy if persona else ""
        names[prof["segment"]] = prof["persona"]
        top_tier = max(prof.get("value_tier_mix", {UNKNOWN: 1.0}).items(), key=lambda kv: kv[1])[0]
        prof["main_value_tier"] = top_tier
        prof["value_tier_strategy"] = tier_strategy[top_tier].strategy if top_tier in tier_strategy else ""
    mean_ari = float(np.mean(stability))
    if mean_ari < 0.6:
        warnings_out.append(f"segments are unstable across bootstrap resamples (mean ARI {mean_ari:.2f})")
    crosstab = pd.crosstab(pd.Series(segments, name="segment"), pd.Series(tiers, name="value_tier"))
    silhouette = scores[k]
    metrics = {"silhouette": silhouette, "n_segments": float(k), "stability_ari": mean_ari,
               "stability_ari_min": float(np.min(stability)), "n_customers": float(len(frame)),
               "segment_share_min": float(min(p["share"] for p in profiles)),
               "n_value_tiers": float(len(set(tiers) - {UNKNOWN})),
               **{f"silhouette_k{kk}": v for kk, v in scores.items()},
               **{f"stability_k{kk}": v for kk, v in k_stability.items()}}
    report = {
        "task": "segment",
        "n_customers": int(len(frame)),
        "n_segments": int(k),
        "features": encoder.feature_names,
        "log_features": encoder.log_columns_,
        "k_selection": {str(kk): v for kk, v in scores.items()},
        "k_stability": {str(kk): v for kk, v in k_stability.items()},
        "stability_ari": stability,
        "metrics": metrics,
        "personas": profiles,
        "value_tiers": [{"name": t.name, "label_zh": t.label_zh, "min_aum": t.min_aum, "strategy": t.strategy,
                         "customers": int((tiers == t.name).sum())} for t in cfg.tiers_desc()],
        "crosstab": {str(int(seg)): {str(c): int(v) for c, v in row.items()} for seg, row in crosstab.iterrows()},
        "warnings": warnings_out,
        "lineage": lineage.tags(),
    }
    model = SegmentModel(encoder, kmeans, names, cfg.tiers_desc())

    with tracked_run("segment", experiment, lineage, seed=seed, digest=digest, frame=frame, path=path,
                     label=None, exclude=[id_name] if id_name else []) as run_id:
        mlflow.log_params({"algorithm": "kmeans", "k": k, "k_rule": "stable_silhouette_peak", "k_range": f"{k_range.start}-{k_range.stop - 1}",
                           "n_features": len(encoder.feature_names), "seed": seed, "trials_unused": trials,
                           "bootstraps": BOOTSTRAPS})
        mlflow.log_metrics(metrics)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "segment_report"
            write_segment_report(report, _plots(Z, segments, frame, scores, names), out)
            mlflow.log_artifacts(str(out), artifact_path="segment_report")
        mlflow.pyfunc.log_model(name="model", python_model=model,
                                signature=_signature(frame, encoder), **model_env(model))
        if warnings_out:
            mlflow.set_tag("kequn.warnings", " | ".join(warnings_out)[:4900])

    persona_text = ", ".join(f"S{p['segment']} {p['persona']} {p['share']:.0%}" for p in profiles)
    lines = [f"segment run {run_id}: {k} segments (silhouette {silhouette:.3f}, bootstrap ARI {mean_ari:.2f}): "
             f"{persona_text}"]
    lines += [f"warning: {w}" for w in warnings_out]
    return {"run_id": run_id, "metrics": metrics, "summary": "\n".join(lines)}
