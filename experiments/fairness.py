"""Fairness of a binary decision across protected attributes, with fairlearn.

For every protected or sensitive attribute (a column of ``sensitive``) the report holds, per
group, fairlearn :class:`~fairlearn.metrics.MetricFrame` metrics at the operating threshold
(count, selection rate, true and false positive rate), the ROC-AUC of the scores and the
calibration (mean score against observed positive rate); and the aggregate gaps
(demographic parity difference and ratio, equalized odds difference) from fairlearn's own
functions, plus the two gaps PIPL Art. 24 asks about for *scores* that rank customers (churn,
propensity): equal opportunity (the true-positive-rate gap) and calibration within groups (at
equal scores, equal observed rates), each with a significance test. Which of them gate a
version is decided per task in conf/gates.yaml (pipelines/gates.py); all are reported.

Groups with fewer than ``min_group_size`` rows are flagged ``small`` and **excluded from the
aggregate gaps**: a ratio between a group of 3 and a group of 3000 is noise, not evidence.
Missing attribute values form their own group, :data:`UNKNOWN_GROUP`.

:func:`assess` is pure (no MLflow) and returns a JSON-able dict; :func:`assess_and_log` logs
``fairness_<metric>_<attribute>`` metrics and ``fairness/fairness_report.{json,html}`` to the
active MLflow run. The report relates each number to PIPL Art. 24 (automated decision-making
must not impose unreasonable differential treatment), in Chinese and English.

Protected attributes are used for measurement only; they need not be model features.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from kequn.errors import TrainingError

UNKNOWN_GROUP = "未知/unknown"
#: Aggregate gaps, in the order they are reported and logged.
AGGREGATES = ("demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
              "selection_rate_pvalue", "equalized_odds_pvalue", "equal_opportunity_difference",
              "true_positive_rate_pvalue", "calibration_difference", "calibration_pvalue",
              "positive_balance_difference", "positive_balance_pvalue")
#: Score bins (pooled quantiles) within which calibration between groups is compared.
CALIBRATION_BINS = 10
#: Per-group metrics, in table order.
GROUP_METRICS = ("count", "selection_rate", "tpr", "fpr", "roc_auc", "mean_score", "observed_rate")
#: Beyond this many groups an attribute is not a categorical protected attribute (e.g. an id).
MAX_GROUPS = 50
METRIC_PREFIX = "fairness_"

EXPLANATIONS: dict[str, dict[str, str]] = {
    "count": {
        "en": "Number of customers in the group (held-out test set).",
        "zh": "该群组在留出测试集中的客户数。",
    },
    "selection_rate": {
        "en": "Share of the group the model selects (score at or above the operating threshold).",
        "zh": "模型选中（得分不低于运营阈值）的客户占该群组的比例。",
    },
    "tpr": {
        "en": "True positive rate: of the group's actual positives, the share the model selects.",
        "zh": "真正率：该群组实际为正例的客户中被模型选中的比例。",
    },
    "fpr": {
        "en": "False positive rate: of the group's actual negatives, the share the model wrongly selects.",
        "zh": "假正率：该群组实际为负例的客户中被模型误选的比例。",
    },
    "roc_auc": {
        "en": "How well the score ranks positives above negatives within the group (0.5 = chance); "
              "empty when the group has only one class.",
        "zh": "组内得分把正例排在负例之前的能力（0.5 为随机）；群组只有一类标签时为空。",
    },
    "mean_score": {
        "en": "Calibration: the average predicted score in the group ...",
        "zh": "校准：该群组的平均预测得分……",
    },
    "observed_rate": {
        "en": "... against the share of actual positives; a large gap means the score over- or "
              "under-states the group's risk.",
        "zh": "……与实际正例比例对比；差距大说明得分高估或低估了该群组的风险。",
    },
    "demographic_parity_difference": {
        "en": "Largest minus smallest selection rate between groups (0 = equal treatment).",
        "zh": "各群组选中率的最大值减最小值（0 表示待遇相同）。",
    },
    "demographic_parity_ratio": {
        "en": "Smallest divided by largest selection rate (1 = equal; below 0.8 is the common "
              "'four-fifths' warning level).",
        "zh": "最小选中率除以最大选中率（1 表示相同；低于 0.8 即常用的“五分之四”警戒线）。",
    },
    "equalized_odds_difference": {
        "en": "The larger of the between-group gaps in true positive rate and in false positive "
              "rate (0 = the model errs equally often in every group).",
        "zh": "各群组真正率差距与假正率差距中的较大者（0 表示模型在各群组中出错的概率相同）。",
    },
    "equal_opportunity_difference": {
        "en": "Largest minus smallest true positive rate between groups: of the customers who really "
              "churn (or really take up the product), does the model find the same share in every "
              "group? (0 = equal opportunity). This is the gap the gates check for churn and "
              "propensity scores.",
        "zh": "各群组真正率的最大值减最小值：在实际流失（或实际购买）的客户中，模型在各群组找出的比例"
              "是否相同（0 表示机会均等）。流失与倾向模型的准入门槛检查此差距。",
    },
    "true_positive_rate_pvalue": {
        "en": "Chance of a true-positive-rate gap at least this large if the groups were in truth "
              "treated alike (chi-square test over the actual positives of the large groups).",
        "zh": "若各群组实际上待遇相同，仍观察到至少如此大的真正率差距的概率（对大样本群组中实际正例的卡方检验）。",
    },
    "calibration_difference": {
        "en": "Calibration within groups: customers with the same score should have the same observed "
              "rate whatever their group. For each group, observed positives minus those expected "
              "from the pooled rate of its score bin, per customer; the gap is the largest minus the "
              "smallest (0 = a score means the same in every group). A model that over-states one "
              "group's risk at equal outcomes shows a large gap.",
        "zh": "组内校准：得分相同的客户无论属于哪个群组，实际比例都应相同。对每个群组，计算实际正例数"
              "减去按其得分分箱的总体比例所预期的正例数（按人均）；差距为最大值减最小值（0 表示同一得分"
              "在各群组含义相同）。在结果相同时高估某一群组风险的模型差距会很大。",
    },
    "calibration_pvalue": {
        "en": "Chance of a calibration gap at least this large if the score meant the same in every "
              "group (stratified chi-square test over the score bins).",
        "zh": "若同一得分在各群组含义相同，仍观察到至少如此大校准差距的概率（按得分分箱的分层卡方检验）。",
    },
    "positive_balance_difference": {
        "en": "Equal opportunity for scores (balance for the positive class): the largest minus the "
              "smallest mean score of a group's actual positives (0 = the customers who really churn, "
              "or really buy, get the same score on average in every group, whatever the cut-off).",
        "zh": "得分层面的机会均等（正例平衡）：各群组实际正例平均得分的最大值减最小值（0 表示无论阈值"
              "如何，实际流失或购买的客户在各群组得到的平均得分相同）。",
    },
    "positive_balance_pvalue": {
        "en": "Chance of a gap at least this large if the actual positives' scores came from the same "
              "distribution in every group (Kruskal-Wallis test).",
        "zh": "若各群组实际正例的得分来自同一分布，仍观察到至少如此大差距的概率（Kruskal-Wallis 检验）。",
    },
    "selection_rate_pvalue": {
        "en": "Chance of a selection-rate gap at least this large if the groups were in truth "
              "treated alike (chi-square test over the large groups). Above 0.05 the gap is within "
              "sampling noise of this test set; the gates then do not reject on demographic parity.",
        "zh": "若各群组实际上待遇相同，仍观察到至少如此大的选中率差距的概率（大样本群组的卡方检验）。"
              "大于 0.05 说明差距在本测试集的抽样误差范围内，准入门槛不据此否决。",
    },
    "equalized_odds_pvalue": {
        "en": "The same test for the true and false positive rates (the smaller of the two "
              "p-values, doubled for the two tests).",
        "zh": "对真正率与假正率做同样的检验（取两个 p 值中较小者并乘以 2）。",
    },
}

PIPL_ART_24 = {
    "en": "PIPL Art. 24: a personal information handler that uses personal information for "
          "automated decision-making must ensure transparency and fair, just results, and must "
          "not impose unreasonable differential treatment on individuals in transaction terms "
          "such as price. The gaps below measure whether this model's decisions treat groups "
          "differently; a large gap is not proof of unfairness, but it must be explained by a "
          "legitimate business reason or corrected before the model is approved.",
    "zh": "《个人信息保护法》第二十四条：个人信息处理者利用个人信息进行自动化决策，应当保证决策的"
          "透明度和结果公平、公正，不得对个人在交易价格等交易条件上实行不合理的差别待遇。以下差距"
          "衡量本模型的决策是否对不同群组区别对待；差距大并不等于不公平，但在模型获批前必须有正当"
          "业务理由加以解释或予以纠正。",
}

SMALL_GROUP_NOTE = {
    "en": "Groups with fewer than {n} customers are flagged 'small' and excluded from the "
          "aggregate gaps, whose value would be noise.",
    "zh": "客户数少于 {n} 的群组标记为“小样本”，不计入汇总差距（其数值只是噪声）。",
}


def _rate(num: np.ndarray, den: np.ndarray) -> float:
    den_sum = float(np.sum(den))
    return float(np.sum(num) / den_sum) if den_sum > 0 else math.nan


def _tpr(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return _rate((y_true == 1) & (y_pred == 1), y_true == 1)


def _fpr(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return _rate((y_true == 0) & (y_pred == 1), y_true == 0)


def _roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    y_true = np.asarray(y_true)
    if len(np.unique(y_true)) < 2:
        return math.nan
    return float(roc_auc_score(y_true, y_score))


def _mean(y_true: np.ndarray, values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else math.nan


def _observed(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true)) if len(y_true) else math.nan


def _json_number(value: Any) -> Any:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def metric_key(metric: str, attribute: str) -> str:
    """The MLflow metric name ``fairness_<metric>_<attribute>`` (attribute made name-safe)."""
    safe = re.sub(r"[^\w.\-]+", "_", str(attribute)).strip("_") or "attribute"
    return f"{METRIC_PREFIX}{metric}_{safe}"


def group_labels(values: pd.Series) -> pd.Series:
    """The group of every row as text, with missing values as :data:`UNKNOWN_GROUP`."""
    labels = values.astype("object").where(values.notna(), UNKNOWN_GROUP)
    return labels.map(str).astype("object")


def _check_inputs(y_true: Any, y_score: Any, sensitive: pd.DataFrame, threshold: float,
                  min_group_size: int) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(y_score, dtype=float)
    if y.ndim != 1 or s.ndim != 1 or len(y) != len(s):
        raise TrainingError(f"fairness: y_true and y_score must be 1-D of equal length. Got {y.shape} and {s.shape}")
    if not isinstance(sensitive, pd.DataFrame) or len(sensitive) != len(y):
        raise TrainingError("fairness: sensitive must be a DataFrame with one row per prediction. "
                            f"Got {type(sensitive).__name__} of length {len(sensitive)} for {len(y)} predictions")
    if not 0.0 <= float(threshold) <= 1.0:
        raise TrainingError(f"fairness: threshold must be in [0, 1]. Got {threshold}")
    if int(min_group_size) < 1:
        raise TrainingError(f"fairness: min_group_size must be at least 1. Got {min_group_size}")
    uniq = set(pd.unique(y).tolist())
    if not uniq <= {0, 1}:  # True/False compare equal to 1/0
        raise TrainingError(f"fairness: y_true must be binary 0/1. Got {len(uniq)} distinct values")
    if np.isnan(s).any():
        raise TrainingError("fairness: y_score holds missing values")
    return y.astype(int), s


def _independence_pvalue(selected: np.ndarray, groups: np.ndarray) -> float:
    """p-value of a chi-square test that selection is independent of the group (1.0 if untestable)."""
    from scipy.stats import chi2_contingency

    table = pd.crosstab(pd.Series(groups, name="group"), pd.Series(selected, name="selected"))
    if table.shape[0] < 2 or table.shape[1] < 2:
        return 1.0
    return float(chi2_contingency(table.to_numpy(), correction=False).pvalue)


def _calibration_gap(y: np.ndarray, s: np.ndarray, groups: np.ndarray) -> tuple[float | None, float | None]:
    """Between-group gap in calibration at equal scores, and its p-value.

    Scores are cut into :data:`CALIBRATION_BINS` pooled quantile bins; a group's residual is
    ``(observed - expected) / n`` where ``expected`` sums the pooled positive rate of each of its
    rows' bin. The statistic ``sum_g (O_g - E_g)^2 / V_g`` (``V_g`` the binomial variance under
    the pooled rates) is referred to chi-square with ``groups - 1`` degrees of freedom.
    """
    from scipy.stats import chi2

    edges = np.unique(np.quantile(s, np.linspace(0, 1, CALIBRATION_BINS + 1)))
    bins = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, max(len(edges) - 2, 0))
    frame = pd.DataFrame({"y": y, "bin": bins, "group": groups})
    rate = frame.groupby("bin")["y"].transform("mean").to_numpy()
    frame["expected"], frame["variance"] = rate, rate * (1 - rate)
    per_group = frame.groupby("group").agg(n=("y", "size"), observed=("y", "sum"), expected=("expected", "sum"),
                                           variance=("variance", "sum"))
    if len(per_group) < 2:
        return None, None
    residual = (per_group["observed"] - per_group["expected"]) / per_group["n"]
    gap = float(residual.max() - residual.min())
    informative = per_group[per_group["variance"] > 0]
    if len(informative) < 2:
        return _json_number(gap), 1.0
    stat = float((((informative["observed"] - informative["expected"]) ** 2) / informative["variance"]).sum())
    return _json_number(gap), float(chi2.sf(stat, len(informative) - 1))


def _positive_balance(s_pos: np.ndarray, groups_pos: np.ndarray) -> tuple[float | None, float | None]:
    """Gap in mean score of the actual positives between groups, and a Kruskal-Wallis p-value."""
    from scipy.stats import kruskal

    frame = pd.DataFrame({"s": s_pos, "group": groups_pos})
    by_group = [g["s"].to_numpy() for _, g in frame.groupby("group") if len(g)]
    if len(by_group) < 2:
        return None, None
    means = [float(np.mean(v)) for v in by_group]
    gap = max(means) - min(means)
    if all(np.ptp(v) == 0 for v in by_group) and gap == 0:
        return 0.0, 1.0
    try:
        pvalue = float(kruskal(*by_group).pvalue)
    except ValueError:  # all values identical
        pvalue = 1.0
    return _json_number(gap), _json_number(pvalue)


def _assess_attribute(attribute: str, y: np.ndarray, s: np.ndarray, pred: np.ndarray,
                      groups: pd.Series, min_group_size: int) -> dict[str, Any]:
    from fairlearn.metrics import (
        MetricFrame,
        count,
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        selection_rate,
    )

    n_groups = groups.nunique()
    if n_groups > MAX_GROUPS:
        raise TrainingError(f"fairness: protected attribute {attribute!r} has {n_groups} groups (more than "
                            f"{MAX_GROUPS}); use a categorical attribute such as gender or age_band")
    on_decisions = MetricFrame(
        metrics={"count": count, "selection_rate": selection_rate, "tpr": _tpr, "fpr": _fpr,
                 "observed_rate": _observed},
        y_true=y, y_pred=pred, sensitive_features=groups.rename(attribute))
    on_scores = MetricFrame(metrics={"roc_auc": _roc_auc, "mean_score": _mean},
                            y_true=y, y_pred=s, sensitive_features=groups.rename(attribute))
    table = on_decisions.by_group.join(on_scores.by_group)
    rows = []
    for group, values in table.iterrows():
        n = int(values["count"])
        row = {"group": str(group), "small": n < min_group_size}
        row.update({m: (n if m == "count" else _json_number(values[m])) for m in GROUP_METRICS})
        rows.append(row)
    large = [r["group"] for r in rows if not r["small"]]
    small = [r["group"] for r in rows if r["small"]]
    aggregates: dict[str, float | None] = dict.fromkeys(AGGREGATES)
    if len(large) >= 2:
        keep = groups.isin(large).to_numpy()
        kwargs = {"sensitive_features": groups[keep].to_numpy()}
        positives = keep & (y == 1)
        tprs = [_tpr(y[keep & (groups == g).to_numpy()], pred[keep & (groups == g).to_numpy()]) for g in large]
        calibration, calibration_p = _calibration_gap(y[keep], s[keep], groups[keep].to_numpy())
        balance, balance_p = _positive_balance(s[positives], groups.to_numpy()[positives])
        aggregates = {
            "demographic_parity_difference": _json_number(demographic_parity_difference(y[keep], pred[keep], **kwargs)),
            "demographic_parity_ratio": _json_number(demographic_parity_ratio(y[keep], pred[keep], **kwargs)),
            "equalized_odds_difference": _json_number(equalized_odds_difference(y[keep], pred[keep], **kwargs)),
            "selection_rate_pvalue": _independence_pvalue(pred[keep], groups[keep].to_numpy()),
            "equalized_odds_pvalue": _json_number(min(1.0, 2 * min(
                _independence_pvalue(pred[keep][y[keep] == label], groups[keep].to_numpy()[y[keep] == label])
                for label in (0, 1)))),
            "equal_opportunity_difference": _json_number(max(tprs) - min(tprs))
            if not any(math.isnan(t) for t in tprs) else None,
            "true_positive_rate_pvalue": _independence_pvalue(pred[positives], groups.to_numpy()[positives]),
            "calibration_difference": calibration,
            "calibration_pvalue": calibration_p,
            "positive_balance_difference": balance,
            "positive_balance_pvalue": balance_p,
        }
        note_en = f"Gaps computed over {len(large)} groups" + (
            f"; {len(small)} small group(s) excluded." if small else ".")
        note_zh = f"汇总差距基于 {len(large)} 个群组计算" + (f"；排除 {len(small)} 个小样本群组。" if small else "。")
    else:
        note_en = (f"Not enough groups with at least {min_group_size} customers ({len(large)}); "
                   "gaps not computed.")
        note_zh = f"客户数不少于 {min_group_size} 的群组不足两个（{len(large)} 个），未计算汇总差距。"
    return {"groups": rows, "excluded_small_groups": small, "aggregates": aggregates,
            "note": {"en": note_en, "zh": note_zh}}


def assess(y_true: Any, y_score: Any, sensitive: pd.DataFrame, *, threshold: float,
           min_group_size: int = 30) -> dict[str, Any]:
    """Measure group fairness of the decision ``y_score >= threshold`` (pure, no MLflow).

    Parameters
    ----------
    y_true : array-like of 0/1
        Observed outcomes on the held-out set.
    y_score : array-like of float
        Model scores in [0, 1] for the same rows.
    sensitive : pandas.DataFrame
        One column per protected attribute, one row per prediction (same order).
    threshold : float
        Operating threshold: a customer is selected when ``score >= threshold``.
    min_group_size : int, default 30
        Groups smaller than this are flagged ``small`` and excluded from the aggregate gaps.

    Returns
    -------
    dict
        JSON-able report: ``threshold``, ``min_group_size``, ``n_rows``, ``attributes``
        (per attribute: ``groups``, ``excluded_small_groups``, ``aggregates``, ``note``),
        ``metrics`` (the ``fairness_<metric>_<attribute>`` values that are defined),
        ``explanations`` and ``pipl_art_24``. Undefined numbers are ``None``.

    Raises
    ------
    TrainingError
        For inputs of mismatched length, non-binary labels or an id-like attribute.
    """
    y, s = _check_inputs(y_true, y_score, sensitive, threshold, min_group_size)
    pred = (s >= float(threshold)).astype(int)
    attributes: dict[str, Any] = {}
    metrics: dict[str, float] = {}
    for column in sensitive.columns:
        groups = group_labels(sensitive[column].reset_index(drop=True))
        result = _assess_attribute(str(column), y, s, pred, groups, int(min_group_size))
        attributes[str(column)] = result
        for name, value in result["aggregates"].items():
            if value is not None:
                metrics[metric_key(name, str(column))] = value
    return {
        "threshold": float(threshold),
        "min_group_size": int(min_group_size),
        "n_rows": int(len(y)),
        "overall_selection_rate": _json_number(pred.mean()) if len(pred) else None,
        "attributes": attributes,
        "metrics": metrics,
        "small_group_note": {k: v.format(n=int(min_group_size)) for k, v in SMALL_GROUP_NOTE.items()},
        "explanations": EXPLANATIONS,
        "pipl_art_24": PIPL_ART_24,
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int):
        return str(value)
    return f"{float(value):.3f}"


def render_html(report: dict[str, Any]) -> str:
    """A self-contained HTML page (no external resources) of :func:`assess`'s report; every value
    escaped (the Jinja template ``experiments/templates/fairness_report.html.j2``, autoescape on)."""
    from experiments._html import render_template

    return render_template("fairness_report.html.j2", report=report, group_metrics=GROUP_METRICS,
                           aggregates=AGGREGATES, explanations=EXPLANATIONS, fairfmt=_fmt)


def assess_and_log(y_true: Any, y_score: Any, sensitive: pd.DataFrame, *, threshold: float,
                   min_group_size: int = 30) -> dict[str, Any]:
    """:func:`assess`, then log its metrics and reports to the active MLflow run.

    Logs every defined aggregate as ``fairness_<metric>_<attribute>`` (e.g.
    ``fairness_demographic_parity_ratio_gender``), the count of small groups as
    ``fairness_n_small_groups_<attribute>``, and the artifacts
    ``fairness/fairness_report.json`` and ``fairness/fairness_report.html``.

    Returns
    -------
    dict
        The report of :func:`assess`.

    Raises
    ------
    TrainingError
        For bad inputs (see :func:`assess`) or when no MLflow run is active.
    """
    import mlflow

    if mlflow.active_run() is None:
        raise TrainingError("fairness: assess_and_log needs an active MLflow run")
    report = assess(y_true, y_score, sensitive, threshold=threshold, min_group_size=min_group_size)
    metrics = dict(report["metrics"])
    for attribute, result in report["attributes"].items():
        metrics[metric_key("n_small_groups", attribute)] = float(len(result["excluded_small_groups"]))
    mlflow.log_metrics(metrics)
    mlflow.log_text(json.dumps(report, ensure_ascii=False, indent=2), "fairness/fairness_report.json")
    mlflow.log_text(render_html(report), "fairness/fairness_report.html")
    return report
