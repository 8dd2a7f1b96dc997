"""conf/segments.yaml: value tiers, lifecycle strategies and persona rules, validated strictly."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError

from kequn.config import StrictConfig
from kequn.errors import ConfigError

__all__ = ["PersonaRule", "PersonaWhen", "SegmentsConfig", "ValueTierRule", "load_segments_config"]

class ValueTierRule(StrictConfig):
    name: str
    label_zh: str = ""
    min_aum: float = Field(ge=0)
    strategy: str = ""


class PersonaWhen(StrictConfig):
    """Conditions on a segment's profile; all given ones must hold (empty = always)."""

    min_aum_median: float | None = None
    max_age_band_upper: float | None = None
    min_age_band_lower: float | None = None
    min_digital_share: float | None = None
    min_salary_share: float | None = None
    min_dormancy_days: float | None = None


class PersonaRule(StrictConfig):
    name: str
    label_zh: str = ""
    when: PersonaWhen = PersonaWhen()
    strategy: str = ""


class SegmentsConfig(StrictConfig):
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
