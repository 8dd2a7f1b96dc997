"""Segment profiles (aggregates only) and the persona rules of conf/segments.yaml that name them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from experiments.segment.columns import AGE_COLUMN, AUM_COLUMN, UNKNOWN, age_band_bounds
from experiments.segment.config import PersonaRule

__all__ = ["MIN_PROFILE_SIZE", "match_persona", "profile_segments"]

#: A segment smaller than this is not profiled (no near-individual aggregates in reports).
MIN_PROFILE_SIZE = 10


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
