"""The data dictionary of the feature table, generated from the registry (Markdown and JSON).

``kequn features`` writes it beside the table (``<stem>.dictionary.md`` / ``.json``); training
calls :func:`write_dictionary` to log it with every run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from features.config import FeatureConfig, load_feature_config
from features.lifecycle import STAGES, STAGES_ZH, rules_markdown
from features.registry import (
    FEATURES,
    GROUPS,
    ID_COLUMN,
    LABELS,
    PROTECTED_DEFAULT,
    REGISTRY_VERSION,
    Feature,
    selected_features,
)
from kequn.io import write_json, write_text

DICTIONARY_STEM = "feature_dictionary"

GROUP_TITLES = {
    "value": "Value 价值", "activity": "Activity 活跃度", "products": "Products 产品持有",
    "channels": "Channels 渠道偏好", "relationship": "Relationship 客户关系", "lifecycle": "Lifecycle 生命周期",
    "label": "Labels 标签",
}
COLUMNS = ("name", "description_en", "description_zh", "source", "window", "as_of", "dtype", "missing")


def dictionary_data(config: FeatureConfig | None = None) -> dict[str, Any]:
    """The dictionary as a JSON-ready dict: version, settings, every feature and label.

    ``features`` are the columns of the table (point-in-time ones and the opted-in extract-time
    ones); ``opt_in_features`` the extract-time attributes left out.
    """
    cfg = config or load_feature_config()
    chosen = selected_features(cfg.extract_attributes)
    return {
        "registry_version": REGISTRY_VERSION,
        "id_column": ID_COLUMN,
        "protected_default": list(PROTECTED_DEFAULT),
        "settings": {"churn_aum_fall_share": cfg.churn.aum_fall_share,
                     "propensity_target_product": cfg.propensity.target_product,
                     "lifecycle": cfg.lifecycle.model_dump(),
                     "extract_attributes": list(cfg.extract_attributes)},
        "lifecycle_stages": [{"name": s, "label_zh": STAGES_ZH[s]} for s in STAGES],
        "features": [f.to_dict() for f in chosen],
        "opt_in_features": [f.to_dict() for f in FEATURES if f not in chosen],
        "labels": [f.to_dict() for f in LABELS],
    }


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(entries: list[Feature]) -> list[str]:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for feat in entries:
        row = feat.to_dict()
        row["name"] = f"`{feat.name}`"
        lines.append("| " + " | ".join(_cell(row[c]) for c in COLUMNS) + " |")
    return lines


def render_markdown(config: FeatureConfig | None = None) -> str:
    """The dictionary as Markdown: conventions, one table per feature group, labels, lifecycle rules."""
    cfg = config or load_feature_config()
    lines = [
        f"# Feature dictionary 特征字典 (registry {REGISTRY_VERSION})",
        "",
        f"One row per customer (`{ID_COLUMN}`, a pseudonymous token) whose relationship is open at the "
        "snapshot *s*. Features use only records dated on or before *s*; `Nd` windows are the N days "
        "ending on *s*. Labels use only the horizon (s, s+h]. `as_of` names the table and date column "
        "that place each feature's records in time; `extract` marks a value the bank extract holds only "
        "as of the day it was taken (no dated history): such attributes are left out unless "
        "conf/features.yaml lists them in `extract_attributes`"
        + (" (included here: " + ", ".join(f"`{a}`" for a in cfg.extract_attributes) + ")."
           if cfg.extract_attributes else "."),
        "",
        f"Settings: churn AUM fall share {cfg.churn.aum_fall_share}, propensity target product "
        f"`{cfg.propensity.target_product}`. Default protected attributes for fairness: "
        + ", ".join(f"`{p}`" for p in PROTECTED_DEFAULT) + ".",
        "",
    ]
    chosen = selected_features(cfg.extract_attributes)
    for group in GROUPS:
        entries = [f for f in (*chosen, *LABELS) if f.group == group]
        if not entries:
            continue
        lines += [f"## {GROUP_TITLES[group]}", "", *_table(entries), ""]
    left_out = [f for f in FEATURES if f not in chosen]
    if left_out:
        lines += ["## Opt-in extract-time attributes 提取日属性（默认不含）", "",
                  "Not in this table; add a name to `extract_attributes` in conf/features.yaml to include it.",
                  "", *_table(left_out), ""]
    lines += ["## Lifecycle rules 生命周期规则", "", rules_markdown(cfg.lifecycle), ""]
    return "\n".join(lines)


def dictionary_paths_for(table_path: str | Path) -> tuple[Path, Path]:
    """``(<stem>.dictionary.md, <stem>.dictionary.json)`` beside a feature table."""
    path = Path(table_path)
    return path.with_name(f"{path.stem}.dictionary.md"), path.with_name(f"{path.stem}.dictionary.json")


def write_dictionary_files(md_path: str | Path, json_path: str | Path,
                           config: FeatureConfig | None = None) -> list[Path]:
    """Atomically write the Markdown and JSON dictionary to the given paths."""
    cfg = config or load_feature_config()
    return [write_text(md_path, render_markdown(cfg)), write_json(json_path, dictionary_data(cfg))]


def write_dictionary(directory: str | Path, config: FeatureConfig | None = None) -> list[Path]:
    """Write ``feature_dictionary.md`` and ``feature_dictionary.json`` into ``directory``.

    For training runs, which log the files as artifacts. Returns the two paths.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return write_dictionary_files(directory / f"{DICTIONARY_STEM}.md", directory / f"{DICTIONARY_STEM}.json",
                                  config)
