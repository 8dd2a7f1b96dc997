"""Settings of the feature builder: conf/features.yaml and the value tiers of conf/segments.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from conf import default_path
from features.registry import OPT_IN_FEATURES
from kequn.config import StrictConfig, read_yaml_mapping
from kequn.errors import ConfigError
from kequn.schema import PRODUCT_TYPES

_Strict = StrictConfig


class ChurnConfig(_Strict):
    aum_fall_share: float = Field(0.5, gt=0, le=1)


class PropensityConfig(_Strict):
    target_product: str = "fund"

    @field_validator("target_product")
    @classmethod
    def _known_product(cls, value: str) -> str:
        if value not in PRODUCT_TYPES:
            raise ValueError(f"must be one of {', '.join(PRODUCT_TYPES)}; got {value!r}")
        return value


class LifecycleConfig(_Strict):
    acquisition_max_tenure_days: int = Field(90, ge=0)
    churn_min_dormancy_days: int = Field(180, ge=1)
    churn_max_aum_change_3m: float = Field(-0.3, lt=0)
    activation_max_txn_count_90d: int = Field(2, ge=0)
    growth_min_aum_change_6m: float = 0.1
    growth_min_products: int = Field(4, ge=1)


class FeatureConfig(_Strict):
    churn: ChurnConfig = ChurnConfig()
    propensity: PropensityConfig = PropensityConfig()
    lifecycle: LifecycleConfig = LifecycleConfig()
    #: extract-time attributes (registry ``as_of: extract``) to include; none by default
    extract_attributes: list[str] = Field(default_factory=list)

    @field_validator("extract_attributes")
    @classmethod
    def _known_extract_attributes(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in OPT_IN_FEATURES]
        if unknown:
            raise ValueError(f"must list extract-time attributes of the feature registry "
                             f"({', '.join(OPT_IN_FEATURES) or 'none'}); got {unknown[0]!r}")
        return list(dict.fromkeys(value))


class ValueTier(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: str
    label_zh: str = ""
    min_aum: float = Field(ge=0)


class _Tier(Protocol):
    name: str
    min_aum: float


#: The tier of a customer whose AUM is missing (or below every threshold).
UNKNOWN_TIER = "unknown"


def assign_value_tier(aum: pd.Series | np.ndarray, tiers: list[_Tier], *,
                      missing: str | None = UNKNOWN_TIER) -> np.ndarray:
    """The value tier (客户分层) of each AUM: the one rule of the feature table and the segment model.

    A customer gets the first tier, checked from the highest ``min_aum`` down, whose ``min_aum``
    their AUM reaches. A missing (NaN or non-numeric) AUM, and an AUM below every threshold, get
    ``missing`` (default :data:`UNKNOWN_TIER`), never the lowest tier: a customer whose assets
    are unknown is not a mass customer. The feature table passes ``missing=None`` (a missing
    value in its ``value_tier`` column); the segment model reports ``unknown``.

    Returns
    -------
    numpy.ndarray
        Object array of tier names (``missing`` where there is no tier), one per AUM.
    """
    values = pd.to_numeric(pd.Series(np.asarray(aum)), errors="coerce").to_numpy(dtype=float)
    ordered = sorted(tiers, key=lambda t: t.min_aum, reverse=True)
    hit = [values >= t.min_aum for t in ordered]
    out = np.select(hit, [t.name for t in ordered], default="").astype(object)
    out[~np.logical_or.reduce(hit) if hit else np.ones(len(values), dtype=bool)] = missing
    return out


def _first_error(path: Path, exc: ValidationError) -> ConfigError:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    return ConfigError(f"{path}: {where}: {err['msg']}")


def load_feature_config(path: str | Path | None = None) -> FeatureConfig:
    """Read and validate conf/features.yaml (or ``path``); unknown keys are an error."""
    path = Path(path) if path is not None else default_path("features.yaml")
    try:
        return FeatureConfig.model_validate(read_yaml_mapping(path))
    except ValidationError as exc:
        raise _first_error(path, exc) from exc


def load_value_tiers(path: str | Path | None = None) -> list[ValueTier]:
    """The value tiers of conf/segments.yaml, sorted from the highest ``min_aum`` down."""
    path = Path(path) if path is not None else default_path("segments.yaml")
    raw = read_yaml_mapping(path).get("value_tiers")
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{path}: value_tiers must be a non-empty list")
    try:
        tiers = [ValueTier.model_validate(t) for t in raw]
    except ValidationError as exc:
        raise _first_error(path, exc) from exc
    return sorted(tiers, key=lambda t: t.min_aum, reverse=True)
