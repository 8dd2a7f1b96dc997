"""The privacy policy (conf/privacy_policy.yaml): load, validate into typed objects, hash.

The policy says, per entity type, its JR/T 0171-2020 category (C3/C2/C1), whether PIPL Art. 28
treats it as sensitive, and what :func:`privacy.pseudonymise.pseudonymise` does with a column
of that type (``drop`` | ``token`` | ``generalise`` | ``redact`` | ``keep``). It also says how
free text is redacted, what happens to columns that hold no personal information, and the
k-anonymity requirement.

Every mistake in the file is a :class:`~kequn.errors.ConfigError` with one line that names
the file and the offending key or setting.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from kequn.config import StrictConfig, first_error, read_yaml_mapping
from kequn.errors import ConfigError
from privacy import entities as E


def _default_policy_path() -> Path:
    try:
        import conf

        return Path(conf.__file__).resolve().parent / "privacy_policy.yaml"
    except ImportError:  # pragma: no cover - conf/ is part of the package
        return Path(__file__).resolve().parent.parent / "conf" / "privacy_policy.yaml"


#: The policy shipped with kequn (conf/privacy_policy.yaml); used when no ``--policy`` is given.
DEFAULT_POLICY_PATH = _default_policy_path()

ACTIONS = ("drop", "token", "generalise", "redact", "keep")
Action = Literal["drop", "token", "generalise", "redact", "keep"]

#: Entities ``generalise`` knows how to coarsen (others need a column override with ``to``).
GENERALISABLE = frozenset({E.BIRTH_DATE, E.CN_ADDRESS})
ADDRESS_LEVELS = ("province", "city")


_Strict = StrictConfig


class EntityRule(_Strict):
    """What the policy says about one entity type."""

    jrt_category: Literal["C1", "C2", "C3"]
    pipl_sensitive: bool
    action: Action
    options: dict[str, Any] = Field(default_factory=dict)


class FreeTextRule(_Strict):
    """How free-text columns are treated: spans redacted with a placeholder or a token."""

    action: Literal["redact", "drop", "keep"] = "redact"
    mode: Literal["placeholder", "token"] = "placeholder"


class UnclassifiedRule(_Strict):
    """What happens to columns whose entity is ``NONE``."""

    action: Literal["keep", "drop"] = "keep"


class KAnonymityRule(_Strict):
    """The k-anonymity requirement over the quasi-identifiers."""

    k: int = Field(default=5, ge=1)
    quasi_identifiers: list[str] = Field(default_factory=lambda: [E.AGE, E.GENDER, E.CITY, E.OCCUPATION])
    on_violation: Literal["report", "suppress", "fail"] = "report"
    max_suppression_share: float | None = Field(default=None, ge=0.0, le=1.0)


class RiskRule(_Strict):
    """Re-identification risk beyond k (privacy.risk.risk_beyond_k), measured and reported.

    ``sensitive_attributes``: column names (or entity types) whose values an attacker must not
    infer from a customer's look-alike group (e.g. risk level, AUM tier); ``l`` and ``t``: the
    l-diversity and t-closeness targets the report judges them by; ``population_fraction``:
    the share of the population the table holds (1: the whole customer base, journalist risk
    = prosecutor risk); ``threshold``: the record risk counted as "at risk" (default 1/k).
    ``on_violation: fail`` refuses to publish when a target is missed.
    """

    sensitive_attributes: list[str] = Field(default_factory=lambda: ["risk_level", "aum_tier", "value_tier"])
    l: int = Field(default=2, ge=1)  # noqa: E741  (the measure's name)
    t: float = Field(default=0.5, gt=0.0, le=1.0)
    population_fraction: float = Field(default=1.0, gt=0.0, le=1.0)
    threshold: float | None = Field(default=None, gt=0.0, le=1.0)
    on_violation: Literal["report", "fail"] = "report"


class ColumnRule(_Strict):
    """An override for one ``table.column``: wins over the detected entity."""

    action: Action
    entity: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("entity")
    @classmethod
    def _known_entity(cls, value: str | None) -> str | None:
        if value is not None and value not in E.ALL_ENTITIES | {E.NONE, E.FREE_TEXT}:
            raise ValueError(f"unknown entity {value!r}")
        return value


class CustomRecognizerRule(_Strict):
    """A bank's own recognizer (:mod:`privacy.custom`): a regex ``pattern`` or a ``deny_list``
    file (one value a line, relative to the policy file)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    entity: str
    pattern: str | None = None
    deny_list: str | None = None
    score: float = Field(default=0.85, ge=0.5, le=1.0)
    context: list[str] = Field(default_factory=list)


class RelinkPurpose(_Strict):
    """What ``kequn relink`` may release for one purpose: contact columns of the raw customer table."""

    columns: list[str] = Field(min_length=1)
    description: str = ""


class RelinkRule(_Strict):
    """The only way back from tokens to people (``kequn relink``): the raw table and column whose
    token the lists carry, and per purpose the contact columns that may be released."""

    table: str = "customers"
    id_column: str = "customer_no"
    id_entity: str = E.CUSTOMER_NO
    purposes: dict[str, RelinkPurpose] = Field(default_factory=dict)

    @field_validator("id_entity")
    @classmethod
    def _known_entity(cls, value: str) -> str:
        if value not in E.ALL_ENTITIES:
            raise ValueError(f"unknown entity {value!r}")
        return value

    @model_validator(mode="after")
    def _id_not_released(self) -> RelinkRule:
        for name, purpose in self.purposes.items():
            if self.id_column in purpose.columns:
                raise ValueError(f"purposes.{name}.columns: {self.id_column!r} is the join key; the "
                                 "contact file carries its token, never the raw value")
        return self


class Policy(_Strict):
    """The validated privacy policy."""

    version: int = 1
    entities: dict[str, EntityRule]
    free_text: FreeTextRule = FreeTextRule()
    unclassified: UnclassifiedRule = UnclassifiedRule()
    k_anonymity: KAnonymityRule = KAnonymityRule()
    risk: RiskRule = RiskRule()
    columns: dict[str, ColumnRule] = Field(default_factory=dict)
    custom_recognizers: list[CustomRecognizerRule] = Field(default_factory=list)
    relink: RelinkRule = RelinkRule()
    _custom: tuple[Any, ...] = PrivateAttr(default=())

    @property
    def custom(self) -> tuple[Any, ...]:
        """The compiled custom recognizers (:class:`privacy.custom.CustomRecognizer`)."""
        return self._custom

    @model_validator(mode="after")
    def _check(self) -> Policy:
        for name, rule in self.entities.items():
            if name not in E.ALL_ENTITIES:
                raise ValueError(f"entities: unknown entity {name!r}; known: {', '.join(sorted(E.ALL_ENTITIES))}")
            _check_options(f"entities.{name}", name, rule.action, rule.options)
        for key, rule in self.columns.items():
            if "." not in key:
                raise ValueError(f"columns: key {key!r} must be 'table.column'")
            _check_options(f"columns.{key}", rule.entity, rule.action, rule.options)
        return self

    def rule_for(self, entity: str) -> EntityRule | None:
        """The rule of ``entity``, or ``None`` when the policy does not name it."""
        return self.entities.get(entity)

    def canonical(self) -> dict[str, Any]:
        """The policy as plain data with sorted keys (what :attr:`hash` is computed over)."""
        return json.loads(json.dumps(self.model_dump(mode="json"), sort_keys=True))

    @property
    def hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of the validated policy.

        Formatting and comments in the YAML do not change it; any setting does.
        """
        text = json.dumps(self.canonical(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_options(where: str, entity: str | None, action: str, options: dict[str, Any]) -> None:
    """Validate the options of one rule; raise ``ValueError`` with a one-line reason."""
    allowed: set[str] = set()
    if action == "generalise":
        if entity == E.BIRTH_DATE:
            allowed = {"publish", "age_band_width", "top_band", "reference_date", "output"}
            publish = options.get("publish", "age_band")
            if publish not in ("birth_year_month", "birth_year", "age_band"):
                raise ValueError(f"{where}.options.publish must be birth_year_month, birth_year or age_band. "
                                 f"Got {publish!r}")
            width = options.get("age_band_width", 10)
            if not isinstance(width, int) or isinstance(width, bool) or not 1 <= width <= 50:
                raise ValueError(f"{where}.options.age_band_width must be an integer 1..50. Got {width!r}")
            top = options.get("top_band")
            if top is not None and (not isinstance(top, int) or isinstance(top, bool) or top < 1):
                raise ValueError(f"{where}.options.top_band must be a positive integer or null. Got {top!r}")
            ref = options.get("reference_date")
            if ref is not None:
                import datetime as dt

                try:
                    dt.date.fromisoformat(str(ref))
                except ValueError as exc:
                    raise ValueError(f"{where}.options.reference_date must be YYYY-MM-DD. Got {ref!r}") from exc
        elif entity == E.CN_ADDRESS:
            allowed = {"levels"}
            levels = options.get("levels", list(ADDRESS_LEVELS))
            if not isinstance(levels, list) or not levels or any(lv not in ADDRESS_LEVELS for lv in levels):
                raise ValueError(f"{where}.options.levels must be a list of {list(ADDRESS_LEVELS)}. Got {levels!r}")
        else:
            allowed = {"to"}
            if options.get("to") != "month":
                raise ValueError(f"{where}: generalise works on BIRTH_DATE, CN_ADDRESS, or a date column with "
                                 f"options {{to: month}}. Got options {options!r}")
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"{where}.options: unknown option {unknown[0]!r} for action {action!r}")


def load_policy(path: str | Path | None = None) -> Policy:
    """Read and validate a policy file (default: :data:`DEFAULT_POLICY_PATH`).

    Raises
    ------
    ConfigError
        The file is missing, not YAML, or breaks the schema (unknown entity, action or key),
        with one line naming the file and the offending key.
    """
    path = Path(path) if path is not None else DEFAULT_POLICY_PATH
    return parse_policy(read_yaml_mapping(path, what="policy file"), source=str(path))


def parse_policy(data: Any, *, source: str = "policy") -> Policy:
    """Validate already-parsed policy data (a dict) into a :class:`Policy`.

    Deny-list files of ``custom_recognizers`` are read relative to ``source``'s folder; a
    missing one, an unknown entity or an invalid regular expression is a :class:`ConfigError`.
    """
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{source}: the policy must be a mapping with an 'entities' section")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {first_error(exc)}") from None
    policy._custom = _compile_custom(policy, source)
    return policy


def _compile_custom(policy: Policy, source: str) -> tuple[Any, ...]:
    from privacy.custom import compile_custom

    base = Path(source).parent if Path(source).is_file() else Path.cwd()
    out = []
    seen: set[str] = set()
    for rule in policy.custom_recognizers:
        if rule.name in seen:
            raise ConfigError(f"{source}: custom_recognizers: the name {rule.name!r} is used twice")
        seen.add(rule.name)
        words = None
        if rule.deny_list is not None:
            path = (base / rule.deny_list) if not Path(rule.deny_list).is_absolute() else Path(rule.deny_list)
            try:
                words = path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{source}: custom_recognizers.{rule.name}: cannot read the deny list "
                                  f"{path} ({type(exc).__name__})") from None
        try:
            out.append(compile_custom(rule.name, rule.entity, rule.pattern, words, rule.score, rule.context))
        except ValueError as exc:
            raise ConfigError(f"{source}: {exc}") from None
    return tuple(out)

