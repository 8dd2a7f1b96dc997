"""``kequn plan``: the campaign and retention contact list (差异化营销方案, 流失预警→挽回).

From a feature table and governed models (uplift required; churn and segment optional) the
plan gives every customer at most one action:

- **campaign**: the offer of the customer's segment (conf/plan.yaml ``offers``: value tier
  first, then persona; the strategy text from conf/segments.yaml), worth
  ``uplift × value_per_response − channel cost``;
- **retention** (with ``--churn``): customers whose churn probability reaches
  ``retention.churn_threshold`` get the churn_risk strategy, worth
  ``churn × save_rate × value_per_save − channel cost``; the better of the two wins.

Never contacted: **sleeping dogs** (predicted uplift < 0, for retention too: contacting them
makes things worse), customers at or below ``min_uplift``, in the **cool-down** after a contact
in ``--history``, at the **cap** of contacts in the window, or (``require_positive_gain``) with
no expected profit. The rest are ranked by expected gain and the first ``--budget`` are the list.

Outputs (tokens only; nothing is re-identified here, see ``kequn relink``): the list as
Parquet with the feature table's lineage (manifest id, policy hash, key fingerprint) embedded,
and a report (``<out>.report.html`` and ``<out>.report.json``, same numbers) with expected
incremental responses and profit at each budget, the list's composition by segment, tier,
action and lifecycle stage, and selection rates across protected groups.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError, model_validator

from kequn import console
from kequn.config import StrictConfig, first_error, read_yaml_mapping
from kequn.errors import ConfigError, InputError

__all__ = ["PLAN_KIND", "PlanConfig", "build_plan", "load_plan_config", "run_plan", "select"]

PLAN_KIND = "plan"
REPORT_KIND = "kequn.plan.report"
GENERATOR = "kequn plan"
ID_COLUMN = "customer_no"
TEMPLATES = Path(__file__).resolve().parent / "templates"
LIST_COLUMNS = ("customer_no", "list", "segment", "persona", "value_tier", "lifecycle_stage", "action", "channel",
                "uplift", "churn_risk", "expected_gain", "reason_codes")

# reason codes (why a customer is on the list, or why not)
R_UPLIFT = "UPLIFT_POSITIVE"
R_UPLIFT_TOP = "UPLIFT_TOP_DECILE"
R_CHURN = "CHURN_RISK"
R_OFFER = "OFFER"
X_SLEEPING_DOG = "SLEEPING_DOG"
X_NO_UPLIFT = "UPLIFT_AT_OR_BELOW_MIN"
X_COOLDOWN = "COOL_DOWN"
X_CAP = "CONTACT_CAP"
X_NO_GAIN = "NO_EXPECTED_PROFIT"
X_BUDGET = "OVER_BUDGET"
X_NO_SCORE = "NO_UPLIFT_SCORE"


# --------------------------------------------------------------------------------------------
# configuration


class Channel(StrictConfig):
    cost: float = Field(ge=0)


class OfferWhen(StrictConfig):
    value_tier: str | None = None
    persona: str | None = None
    lifecycle_stage: str | None = None


class Offer(StrictConfig):
    when: OfferWhen = OfferWhen()
    action: str = Field(min_length=1)
    channel: str
    value_per_response: float = Field(ge=0)


class Retention(StrictConfig):
    churn_threshold: float = Field(default=0.5, gt=0, le=1)
    save_rate: float = Field(default=0.25, ge=0, le=1)
    value_per_save: float = Field(default=2000, ge=0)
    channel: str = "phone"
    action: str | None = None


class DoNotContact(StrictConfig):
    """A business rule (营销静默): customers whose ``column`` is within [min, max] (or equals
    ``equals``) are never contacted; ``reason`` is the code the report counts them under."""

    column: str
    min: float | None = None
    max: float | None = None
    equals: str | None = None
    reason: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,40}$")

    @model_validator(mode="after")
    def _one_condition(self) -> DoNotContact:
        if self.min is None and self.max is None and self.equals is None:
            raise ValueError(f"do_not_contact {self.column!r}: give min, max or equals")
        return self

    def mask(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Which rows the rule blocks; ``None`` when the table has no such column."""
        if self.column not in frame.columns:
            return None
        if self.equals is not None:
            return (frame[self.column].astype("string") == self.equals).fillna(False).to_numpy(dtype=bool)
        values = pd.to_numeric(frame[self.column], errors="coerce")
        ok = values.notna()
        if self.min is not None:
            ok &= values >= self.min
        if self.max is not None:
            ok &= values <= self.max
        return ok.to_numpy(dtype=bool)


class ContactRules(StrictConfig):
    min_uplift: float = Field(default=0.0, ge=0)
    cooldown_days: int = Field(default=30, ge=0)
    max_contacts: int = Field(default=3, ge=1)
    window_days: int = Field(default=90, ge=1)
    require_positive_gain: bool = True
    do_not_contact: list[DoNotContact] = Field(default_factory=list)


class PlanConfig(StrictConfig):
    currency: str = "CNY"
    channels: dict[str, Channel] = Field(min_length=1)
    offers: list[Offer] = Field(min_length=1)
    retention: Retention = Retention()
    contact: ContactRules = ContactRules()
    report_budgets: list[float] = Field(default_factory=lambda: [0.05, 0.1, 0.2, 0.3, 0.4, 0.5])
    protected: list[str] = Field(default_factory=lambda: ["gender", "age_band"])
    min_group_size: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _check(self) -> PlanConfig:
        for i, offer in enumerate(self.offers):
            if offer.channel not in self.channels:
                raise ValueError(f"offers.{i}.channel: unknown channel {offer.channel!r}; "
                                 f"known: {', '.join(self.channels)}")
        if self.retention.channel not in self.channels:
            raise ValueError(f"retention.channel: unknown channel {self.retention.channel!r}")
        if any(not 0 < b <= 1 for b in self.report_budgets):
            raise ValueError("report_budgets: each is a share of customers in (0, 1]")
        return self


def load_plan_config(path: str | Path | None = None, segments: Any = None) -> tuple[PlanConfig, str]:
    """Read and validate conf/plan.yaml (or ``path``); returns it with the file's SHA-256.

    Tier and persona names in ``offers`` must exist in conf/segments.yaml (a typo would silently
    give everyone the default offer).
    """
    from conf import default_path

    path = Path(path) if path is not None else default_path("plan.yaml")
    raw = read_yaml_mapping(path, what="plan configuration")
    try:
        config = PlanConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {first_error(exc)}") from None
    if segments is not None:
        tiers = {t.name for t in segments.value_tiers}
        personas = {p.name for p in segments.personas}
        for i, offer in enumerate(config.offers):
            if offer.when.value_tier is not None and offer.when.value_tier not in tiers:
                raise ConfigError(f"{path}: offers.{i}.when.value_tier: {offer.when.value_tier!r} is not a value "
                                  f"tier of conf/segments.yaml ({', '.join(sorted(tiers))})")
            if offer.when.persona is not None and offer.when.persona not in personas:
                raise ConfigError(f"{path}: offers.{i}.when.persona: {offer.when.persona!r} is not a persona "
                                  f"of conf/segments.yaml ({', '.join(sorted(personas))})")
    return config, hashlib.sha256(path.read_bytes()).hexdigest()


def parse_budget(text: Any, n_customers: int) -> int:
    """``--budget``: a number of contacts (``5000``) or a share of the customers (``20%``)."""
    raw = str(text).strip()
    try:
        if raw.endswith("%"):
            share = float(raw[:-1])
            if not math.isfinite(share) or share <= 0 or share > 100:
                raise ValueError
            return max(1, int(math.ceil(share / 100 * n_customers - 1e-9)))
        value = float(raw)
        if not math.isfinite(value) or value <= 0 or value != int(value):
            raise ValueError
        return int(value)
    except ValueError:
        raise InputError("--budget must be a positive number of contacts (e.g. 5000) or a share of the "
                         f"customers (e.g. 20%). Got {raw!r}") from None


# --------------------------------------------------------------------------------------------
# contact history


def read_history(path: Path) -> pd.DataFrame:
    """``customer_no`` (tokens) and ``contact_date`` of earlier contacts.

    Accepts a table with ``customer_no`` and one of ``contact_date`` / ``campaign_date`` /
    ``date``; with a ``treatment`` column (the clean zone's campaigns table) only treated rows
    were contacts. Raw identifiers are refused.
    """
    from kequn.io import read_table
    from privacy.tokens import TOKEN_PATTERN

    frame = read_table(path, as_text=True)
    if ID_COLUMN not in frame.columns:
        raise InputError(f"--history {path}: no {ID_COLUMN!r} column")
    date_col = next((c for c in ("contact_date", "campaign_date", "date") if c in frame.columns), None)
    if date_col is None:
        raise InputError(f"--history {path}: no contact_date (or campaign_date) column")
    if "treatment" in frame.columns:
        frame = frame.loc[pd.to_numeric(frame["treatment"], errors="coerce") == 1]
    ids = frame[ID_COLUMN].astype("string")
    if not ids.dropna().str.fullmatch(TOKEN_PATTERN.strip("^$")).all():
        raise InputError(f"--history {path}: {ID_COLUMN} must hold tokens (tk_<key id>_<16 hex>) from `kequn pseudonymise`; "
                         "raw identifiers are refused")
    dates = pd.to_datetime(frame[date_col], errors="coerce")
    if dates.isna().any():
        raise InputError(f"--history {path}: {int(dates.isna().sum())} rows of {date_col!r} are not dates")
    return pd.DataFrame({ID_COLUMN: ids.to_numpy(), "contact_date": dates.dt.normalize().to_numpy()})


def contact_limits(ids: pd.Series, history: pd.DataFrame | None, as_of: dt.date,
                   rules: ContactRules) -> tuple[np.ndarray, np.ndarray]:
    """``(in_cooldown, at_cap)`` per customer of ``ids`` from the contact history."""
    n = len(ids)
    if history is None or history.empty:
        return np.zeros(n, bool), np.zeros(n, bool)
    ref = pd.Timestamp(as_of)
    past = history.loc[history["contact_date"] <= ref]
    age = (ref - past["contact_date"]).dt.days
    last = age.groupby(past[ID_COLUMN]).min()
    in_window = past.loc[age < rules.window_days].groupby(ID_COLUMN).size()
    days_since = ids.map(last).to_numpy(dtype="float64", na_value=np.nan)
    count = ids.map(in_window).fillna(0).to_numpy(dtype="float64")
    cooldown = np.nan_to_num(days_since, nan=np.inf) < rules.cooldown_days
    cap = count + 1 > rules.max_contacts
    return cooldown, cap


# --------------------------------------------------------------------------------------------
# selection (pure: arrays in, decisions out)


def assign_offers(value_tier: np.ndarray, persona: np.ndarray | None, stage: np.ndarray | None,
                  config: PlanConfig) -> np.ndarray:
    """Index into ``config.offers`` per row: the first offer whose every condition holds."""
    n = len(value_tier)
    chosen = np.full(n, -1, dtype=np.int64)
    for i, offer in enumerate(config.offers):
        ok = chosen < 0
        if offer.when.value_tier is not None:
            ok &= value_tier == offer.when.value_tier
        if offer.when.persona is not None:
            ok &= (persona == offer.when.persona) if persona is not None else False
        if offer.when.lifecycle_stage is not None:
            ok &= (stage == offer.when.lifecycle_stage) if stage is not None else False
        chosen[ok] = i
    return chosen


def select(*, uplift: np.ndarray, churn: np.ndarray | None, offer_idx: np.ndarray, cooldown: np.ndarray,
           cap: np.ndarray, budget: int, config: PlanConfig, blocked: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Decide per customer: list (campaign / retention / none), expected gain, why (not).

    Returns arrays ``candidate`` (the list a customer would be on), ``list`` (the same for the
    selected, "" for the rest), ``gain`` (expected gain of the chosen action), ``rank``
    (0-based order among the eligible by gain; -1 when not eligible), ``selected`` (bool),
    ``excluded`` (object: the first reason a customer is not eligible, or "").
    """
    n = len(uplift)
    costs = {name: ch.cost for name, ch in config.channels.items()}
    offer_cost = np.array([costs[o.channel] for o in config.offers])[np.maximum(offer_idx, 0)]
    offer_value = np.array([o.value_per_response for o in config.offers])[np.maximum(offer_idx, 0)]
    has_offer = offer_idx >= 0
    u = np.nan_to_num(uplift, nan=-np.inf)
    gain_campaign = np.where(has_offer, u * offer_value - offer_cost, -np.inf)
    lists = np.where(has_offer, "campaign", "").astype(object)
    gain = gain_campaign.copy()
    if churn is not None:
        r = config.retention
        at_risk = np.nan_to_num(churn, nan=0.0) >= r.churn_threshold
        gain_retention = np.where(at_risk, np.nan_to_num(churn) * r.save_rate * r.value_per_save
                                  - costs[r.channel], -np.inf)
        better = gain_retention > gain
        lists = np.where(better, "retention", lists).astype(object)
        gain = np.maximum(gain, gain_retention)
    excluded = np.full(n, "", dtype=object)
    rules = config.contact

    def exclude(mask: np.ndarray, reason: str) -> None:
        excluded[mask & (excluded == "")] = reason

    exclude(np.isnan(uplift), X_NO_SCORE)
    exclude(uplift < 0, X_SLEEPING_DOG)
    exclude(uplift <= rules.min_uplift, X_NO_UPLIFT)
    if blocked is not None:  # do_not_contact rules: the rule's own reason code
        mask = blocked != ""
        excluded[mask & (excluded == "")] = blocked[mask & (excluded == "")]
    exclude(cooldown, X_COOLDOWN)
    exclude(cap, X_CAP)
    if rules.require_positive_gain:
        exclude(~(gain > 0), X_NO_GAIN)
    exclude(~np.isfinite(gain), X_NO_GAIN)
    eligible = excluded == ""
    order = np.flatnonzero(eligible)
    order = order[np.argsort(-gain[order], kind="mergesort")]
    rank = np.full(n, -1, dtype=np.int64)
    rank[order] = np.arange(len(order))
    selected = eligible & (rank < budget)
    exclude(eligible & ~selected, X_BUDGET)
    return {"candidate": lists, "list": np.where(selected, lists, "").astype(object), "gain": np.where(np.isfinite(gain), gain, np.nan), "rank": rank,
            "selected": selected, "excluded": excluded}


def reason_codes(*, uplift: np.ndarray, churn: np.ndarray | None, lists: np.ndarray, offer_idx: np.ndarray,
                 config: PlanConfig, top: float) -> np.ndarray:
    """``;``-joined reason codes of the selected rows (``top``: the uplift of the top decile of all)."""
    n = len(uplift)
    parts: list[np.ndarray] = [np.where(uplift > 0, R_UPLIFT, "").astype(object),
                               np.where(uplift >= top, R_UPLIFT_TOP, "").astype(object)]
    if churn is not None:
        parts.append(np.where(np.nan_to_num(churn) >= config.retention.churn_threshold, R_CHURN, "").astype(object))
    offer_code = np.array([_offer_code(o) for o in config.offers] + [""], dtype=object)
    parts.append(np.where(lists == "campaign", offer_code[np.where(offer_idx >= 0, offer_idx, -1)], "").astype(object))
    out = np.empty(n, dtype=object)
    for i in range(n):  # per-row join over at most 4 short codes; lists are budget-sized
        out[i] = ";".join(p[i] for p in parts if p[i])
    return out


def _offer_code(offer: Offer) -> str:
    w = offer.when
    if w.value_tier:
        return f"{R_OFFER}_TIER_{w.value_tier.upper()}"
    if w.persona:
        return f"{R_OFFER}_PERSONA_{w.persona.upper()}"
    if w.lifecycle_stage:
        return f"{R_OFFER}_STAGE_{w.lifecycle_stage.upper()}"
    return f"{R_OFFER}_DEFAULT"


# --------------------------------------------------------------------------------------------
# report


def budget_curve(gain: np.ndarray, rank: np.ndarray, uplift: np.ndarray, churn: np.ndarray | None,
                 lists_if_selected: np.ndarray, costs: np.ndarray, counts: list[int], config: PlanConfig,
                 n_customers: int) -> list[dict[str, Any]]:
    """Expected incremental responses, saves, cost and profit when the first k eligible are contacted."""
    order = np.argsort(np.where(rank >= 0, rank, np.iinfo(np.int64).max), kind="mergesort")[: int((rank >= 0).sum())]
    rows = []
    save = (np.nan_to_num(churn) * config.retention.save_rate) if churn is not None else np.zeros(len(gain))
    for k in sorted(set(counts)):
        idx = order[:k]
        campaign = idx[lists_if_selected[idx] == "campaign"]
        retention = idx[lists_if_selected[idx] == "retention"]
        rows.append({
            "contacts": int(len(idx)),
            "requested": int(k),
            "share_of_customers": float(k / n_customers) if n_customers else 0.0,
            "expected_incremental_responses": float(np.nansum(uplift[campaign])),
            "expected_saves": float(save[retention].sum()),
            "contact_cost": float(costs[idx].sum()),
            "expected_profit": float(np.nansum(gain[idx])),
        })
    return rows


def composition(frame: pd.DataFrame, column: str) -> list[dict[str, Any]]:
    """Counts, shares and expected gain of the list by one column (aggregates only)."""
    if frame.empty or column not in frame.columns:
        return []
    keys = frame[column].astype("string").fillna("(unknown)")
    grouped = frame.assign(_k=keys).groupby("_k", observed=True)
    out = [{"value": str(k), "contacts": int(len(g)), "share": float(len(g) / len(frame)),
            "expected_gain": float(g["expected_gain"].sum()),
            "expected_incremental_responses": float(g.loc[g["list"] == "campaign", "uplift"].sum())}
           for k, g in grouped]
    return sorted(out, key=lambda r: -r["contacts"])


def selection_rates(features: pd.DataFrame, selected: np.ndarray, columns: list[str],
                    min_group: int) -> dict[str, Any]:
    """Per protected attribute: each group's size and selection rate, and the gap (reported)."""
    overall = float(selected.mean()) if len(selected) else 0.0
    out: dict[str, Any] = {}
    for col in columns:
        if col not in features.columns:
            continue
        keys = features[col].astype("string").fillna("(missing)").to_numpy()
        groups = []
        for key in sorted(set(keys)):
            mask = keys == key
            size = int(mask.sum())
            row: dict[str, Any] = {"group": str(key), "customers": size, "reported": size >= min_group}
            if row["reported"]:
                row["selected"] = int(selected[mask].sum())
                row["selection_rate"] = float(selected[mask].mean())
                row["ratio_to_overall"] = (row["selection_rate"] / overall) if overall > 0 else None
            groups.append(row)
        rates = [g["selection_rate"] for g in groups if g["reported"]]
        out[col] = {"groups": groups,
                    "max_gap": float(max(rates) - min(rates)) if len(rates) > 1 else None,
                    "min_max_ratio": float(min(rates) / max(rates)) if len(rates) > 1 and max(rates) > 0 else None}
    return {"overall_rate": overall, "attributes": out}


# --------------------------------------------------------------------------------------------
# the step


def build_plan(features: pd.DataFrame, *, uplift: np.ndarray, churn: np.ndarray | None,
               segment: pd.DataFrame | None, budget: int, config: PlanConfig, segments_config: Any,
               history: pd.DataFrame | None = None, as_of: dt.date | None = None) -> tuple[pd.DataFrame, dict]:
    """The contact list (selected rows, ranked) and the report data; no I/O."""
    from features.config import assign_value_tier

    n = len(features)
    ids = features[ID_COLUMN].astype("string").reset_index(drop=True)
    if segment is not None and "value_tier" in segment.columns:
        tier = segment["value_tier"].astype(str).to_numpy()
    elif "value_tier" in features.columns:
        tier = features["value_tier"].astype("string").fillna("unknown").to_numpy(dtype=object)
    elif "aum" in features.columns:
        tier = np.asarray(assign_value_tier(features["aum"], segments_config.value_tiers, missing="unknown"))
    else:
        tier = np.full(n, "unknown", dtype=object)
    tier = tier.astype(object)
    persona = segment["persona"].astype(str).to_numpy(dtype=object) if segment is not None else None
    seg_id = segment["segment"].to_numpy() if segment is not None and "segment" in segment.columns else None
    stage = (features["lifecycle_stage"].astype("string").fillna("unknown").to_numpy(dtype=object)
             if "lifecycle_stage" in features.columns else None)
    offer_idx = assign_offers(tier, persona, stage, config)
    as_of = as_of or dt.date.today()
    cooldown, cap = contact_limits(ids, history, as_of, config.contact)
    blocked = np.full(n, "", dtype=object)
    rules_not_applied = []
    for rule in config.contact.do_not_contact:
        mask = rule.mask(features.reset_index(drop=True))
        if mask is None:
            rules_not_applied.append(rule.column)
            continue
        blocked[mask & (blocked == "")] = rule.reason
    decision = select(uplift=uplift, churn=churn, offer_idx=offer_idx, cooldown=cooldown, cap=cap, blocked=blocked,
                      budget=budget, config=config)
    costs_by_channel = {k: c.cost for k, c in config.channels.items()}
    would_be = decision["candidate"]  # the list a customer is on if the budget reaches them
    retention_action = config.retention.action or segments_config.lifecycle_strategies.get("churn_risk") or "流失挽留"
    action = np.where(would_be == "retention", retention_action,
                      np.array([o.action for o in config.offers] + [""], dtype=object)[offer_idx]).astype(object)
    channel = np.where(would_be == "retention", config.retention.channel,
                       np.array([o.channel for o in config.offers] + [""], dtype=object)[offer_idx]).astype(object)
    cost = pd.Series(channel).map(costs_by_channel).fillna(0.0).to_numpy(dtype="float64")
    strategy = _strategies(offer_idx, tier, persona, config, segments_config)
    strategy = np.where(would_be == "retention", retention_action, strategy).astype(object)
    sel = decision["selected"]
    codes = np.full(n, "", dtype=object)
    top = np.nanquantile(uplift, 0.9) if np.isfinite(uplift).any() else np.inf
    codes[sel] = reason_codes(uplift=uplift[sel], churn=churn[sel] if churn is not None else None,
                              lists=would_be[sel], offer_idx=offer_idx[sel], config=config, top=top)
    segment_label = (persona if persona is not None else tier)
    table = pd.DataFrame({
        "customer_no": ids.to_numpy(),
        "list": would_be,
        "segment": pd.Series(seg_id).astype("Int64").astype("string").to_numpy() if seg_id is not None
        else segment_label,
        "persona": persona if persona is not None else np.full(n, None, dtype=object),
        "value_tier": tier,
        "lifecycle_stage": stage if stage is not None else np.full(n, None, dtype=object),
        "action": action,
        "channel": channel,
        "strategy": strategy,
        "uplift": uplift.astype("float64"),
        "churn_risk": churn.astype("float64") if churn is not None else np.full(n, np.nan),
        "expected_gain": decision["gain"],
        "reason_codes": codes,
        "rank": decision["rank"],
    })
    chosen = table.loc[sel].sort_values("rank", kind="mergesort")
    out = chosen.drop(columns=["rank", "strategy"]).reset_index(drop=True)
    out.insert(1, "priority", np.arange(1, len(out) + 1, dtype="int64"))
    for col in ("list", "segment", "persona", "value_tier", "lifecycle_stage", "action", "channel", "reason_codes"):
        out[col] = out[col].astype("string")

    grid = sorted({max(1, int(math.ceil(b * n - 1e-9))) for b in config.report_budgets} | {budget})
    curve = budget_curve(decision["gain"], decision["rank"], uplift, churn, would_be, cost, grid, config, n)
    excluded = pd.Series(decision["excluded"]).replace("", np.nan).dropna().value_counts()
    seg_key = "persona" if persona is not None else "value_tier"
    strategies = {t.name: t.strategy for t in segments_config.value_tiers}  # the text of conf/segments.yaml
    strategies.update({p.name: p.strategy for p in segments_config.personas})
    report = {
        "kind": REPORT_KIND,
        "customers": int(n),
        "budget": int(budget),
        "as_of": as_of.isoformat(),
        "selected": int(sel.sum()),
        "eligible": int((decision["rank"] >= 0).sum()),
        "lists": {k: int(v) for k, v in pd.Series(would_be[sel]).value_counts().items()},
        "expected_incremental_responses": float(np.nansum(uplift[sel & (would_be == "campaign")])),
        "expected_saves": float((np.nan_to_num(churn) * config.retention.save_rate)[sel & (would_be == "retention")]
                                .sum()) if churn is not None else 0.0,
        "contact_cost": float(cost[sel].sum()),
        "expected_profit": float(np.nansum(decision["gain"][sel])),
        "currency": config.currency,
        "not_contacted": {str(k): int(v) for k, v in excluded.items()},
        "do_not_contact_rules_not_applied": rules_not_applied,
        "sleeping_dogs": int((uplift < 0).sum()),
        "sleeping_dogs_contacted": int((sel & (uplift < 0)).sum()),
        "budgets": curve,
        "composition": {key: composition(chosen, key) for key in
                        ("list", seg_key, "value_tier", "action", "channel", "lifecycle_stage")
                        if key in chosen.columns and chosen[key].notna().any()},
        "strategies": {str(k): str(v) for k, v in strategies.items()},
        "fairness": selection_rates(features.reset_index(drop=True), sel, list(config.protected),
                                    config.min_group_size),
    }
    return out, report


def _strategies(offer_idx: np.ndarray, tier: np.ndarray, persona: np.ndarray | None, config: PlanConfig,
                segments_config: Any) -> np.ndarray:
    """The conf/segments.yaml strategy text behind each row's offer (tier or persona rule)."""
    tier_text = {t.name: t.strategy for t in segments_config.value_tiers}
    persona_text = {p.name: p.strategy for p in segments_config.personas}
    out = np.array([tier_text.get(t, "") for t in tier], dtype=object)
    for i, offer in enumerate(config.offers):
        mask = offer_idx == i
        if offer.when.persona:
            out[mask] = persona_text.get(offer.when.persona, "")
        elif offer.when.value_tier is None and persona is not None:
            out[mask] = np.array([persona_text.get(p, tier_text.get(t, "")) for p, t in
                                  zip(persona[mask], tier[mask], strict=True)], dtype=object)
    return out


# --------------------------------------------------------------------------------------------
# files


def report_paths(out: Path) -> tuple[Path, Path]:
    stem = out.name[: -len(out.suffix)] if out.suffix else out.name
    return out.with_name(f"{stem}.report.html"), out.with_name(f"{stem}.report.json")


def is_plan_list(path: Path) -> bool:
    from kequn.lineage import read_parquet_lineage

    lineage = read_parquet_lineage(path)
    return bool(lineage) and lineage.get("kind") == PLAN_KIND


def is_plan_report(path: Path) -> bool:
    try:
        if path.suffix == ".json":
            return json.loads(path.read_text(encoding="utf-8")).get("kind") == REPORT_KIND
        return f'<meta name="generator" content="{GENERATOR}">' in path.read_text(encoding="utf-8")[:2000]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return False


def render_html(report: dict[str, Any]) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["num"] = lambda v, f=",.0f": "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) \
        else format(v, f)
    return env.get_template("plan_report.html.j2").render(r=report, generator=GENERATOR)


def tokens_digest(tokens: pd.Series) -> str:
    """SHA-256 over the list's tokens in order: ``kequn relink`` refuses a list whose rows changed."""
    return hashlib.sha256("\n".join(tokens.astype(str)).encode("utf-8")).hexdigest()


def feature_digest(path: Path) -> str:
    from kequn.io import sha256_file

    return sha256_file(path)


def run_plan(*, data: Path, uplift_uri: str | None, churn_uri: str | None = None, segment_uri: str | None = None,
             budget: Any, out: Path, json_out: Path | None = None, history: Path | None = None,
             config_path: Path | None = None, as_of: str | None = None) -> dict[str, Any]:
    """``kequn plan``: check every input, load and verify the models, select, write list and report."""
    from experiments.segment.config import load_segments_config
    from kequn.io import check_output_file, read_table, write_json, write_text
    from kequn.lineage import require_clean_table, write_parquet_with_lineage
    from pipelines import models

    if not uplift_uri:
        raise InputError("plan needs an uplift model: pass --uplift models:/NAME@champion (without it the "
                         "plan cannot tell persuadables from sleeping dogs)")
    for option, uri in (("--uplift", uplift_uri), ("--churn", churn_uri), ("--segment", segment_uri)):
        if uri is not None:
            models.parse_model_uri(uri, option=option)
    out, data = Path(out), Path(data)
    if out.suffix.lower() != ".parquet":
        raise InputError(f"--out {out}: the list is written as Parquet (it carries its lineage); use a .parquet name")
    html_path, json_path = report_paths(out)
    check_output_file(out, is_earlier_output=is_plan_list)
    check_output_file(html_path, is_earlier_output=is_plan_report, option="--out (report)")
    check_output_file(json_path, is_earlier_output=is_plan_report, option="--out (report)")
    if json_out is not None:
        check_output_file(Path(json_out), is_earlier_output=is_plan_report, option="--json")
    segments_config = load_segments_config()
    config, config_sha = load_plan_config(config_path, segments_config)
    ref_date = None
    if as_of is not None:
        try:
            ref_date = dt.date.fromisoformat(str(as_of))
        except ValueError:
            raise InputError(f"--as-of must be YYYY-MM-DD. Got {as_of!r}") from None

    with console.stage("load feature table") as st:
        lineage = require_clean_table(data)
        features = read_table(data).reset_index(drop=True)
        if ID_COLUMN not in features.columns:
            raise InputError(f"--data {data}: no {ID_COLUMN!r} column (the customer token)")
        from privacy.tokens import TOKEN_PATTERN

        if not features[ID_COLUMN].astype("string").dropna().str.fullmatch(TOKEN_PATTERN.strip("^$")).all():
            raise InputError(f"--data {data}: {ID_COLUMN} does not hold tokens; the plan works on tokens only")
        n = len(features)
        if n == 0:
            raise InputError(f"--data {data}: the table has no rows")
        n_budget = parse_budget(budget, n)
        snapshot = (lineage.extra or {}).get("snapshot")
        if ref_date is None and snapshot:
            ref_date = dt.date.fromisoformat(str(snapshot))
        st.done(f"{n:,} customers{f' at {snapshot}' if snapshot else ''}")
    hist = read_history(Path(history)) if history is not None else None

    loaded: dict[str, Any] = {}
    with console.stage("verify and load models") as st:
        loaded["uplift"] = models.load_governed(uplift_uri, option="--uplift", tasks=("uplift",))
        if churn_uri:
            loaded["churn"] = models.load_governed(churn_uri, option="--churn", tasks=("churn",))
        if segment_uri:
            loaded["segment"] = models.load_governed(segment_uri, option="--segment", tasks=("segment",))
        st.done(", ".join(f"{k} {m.name} v{m.version}" for k, m in loaded.items()))
    with console.stage("score") as st:
        u = models.as_vector(models.predict(loaded["uplift"], features, option="--uplift"), n, what="--uplift")
        p = (models.as_vector(models.predict(loaded["churn"], features, option="--churn"), n, what="--churn")
             if "churn" in loaded else None)
        seg = None
        if "segment" in loaded:
            seg = models.predict(loaded["segment"], features, option="--segment")
            if not isinstance(seg, pd.DataFrame) or "persona" not in seg.columns:
                raise InputError(f"--segment {loaded['segment'].name}: not a segment model (no persona output)")
            seg = seg.reset_index(drop=True)
        st.done(f"uplift < 0 (sleeping dogs) {float((u < 0).mean()):.1%}"
                + (f", churn ≥ {config.retention.churn_threshold:g} {float((p >= config.retention.churn_threshold).mean()):.1%}"
                   if p is not None else ""))
    with console.stage(f"select up to {n_budget:,} contacts") as st:
        table, report = build_plan(features, uplift=u, churn=p, segment=seg, budget=n_budget, config=config,
                                   segments_config=segments_config, history=hist, as_of=ref_date)
        st.done(f"{len(table):,} selected")
    report.update({
        "models": {k: m.describe() for k, m in loaded.items()},
        "data": {"table": data.name, "sha256": feature_digest(data), "manifest_id": lineage.manifest_id,
                 "snapshot": snapshot},
        "config": {"file": str(config_path or "conf/plan.yaml"), "sha256": config_sha},
        "history": {"contacts": int(len(hist))} if hist is not None else None,
        "list_file": out.name,
    })
    plan_lineage = {
        "kind": PLAN_KIND, "manifest_id": lineage.manifest_id, "policy_hash": lineage.policy_hash,
        "key_fingerprint": lineage.key_fingerprint, "clean_dir": lineage.clean_dir, "status": "passed",
        "features_sha256": report["data"]["sha256"], "snapshot": snapshot, "budget": n_budget,
        "plan_config_sha256": config_sha, "models": report["models"],
        "rows": int(len(table)), "tokens_sha256": tokens_digest(table[ID_COLUMN]),
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(),
    }
    with console.stage("write list and report") as st:
        write_parquet_with_lineage(table, out, plan_lineage)
        write_json(json_path, report)
        write_text(html_path, render_html(report))
        if json_out is not None:
            write_json(Path(json_out), report)
        st.done(f"{out}, {html_path.name}, {json_path.name}")
    lines = [f"plan: {report['selected']:,} of {n:,} customers to contact (budget {n_budget:,}; "
             f"{', '.join(f'{k} {v:,}' for k, v in report['lists'].items()) or 'none'}) → {out}",
             f"  expected incremental responses {report['expected_incremental_responses']:,.1f}, "
             f"expected saves {report['expected_saves']:,.1f}, cost {report['contact_cost']:,.0f} {config.currency}, "
             f"expected profit {report['expected_profit']:,.0f} {config.currency}",
             "  not contacted: " + (", ".join(f"{k} {v:,}" for k, v in report["not_contacted"].items()) or "none")
             + f"; sleeping dogs contacted {report['sleeping_dogs_contacted']}",
             f"  report {html_path} (+ {json_path.name})"]
    return {"summary": "\n".join(lines), "report": report, "out": str(out)}
