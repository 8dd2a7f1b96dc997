"""Promotion gates (conf/gates.yaml): validated configuration and their evaluation on a run.

A gate is a small readable rule like MLflow's ``MetricThreshold``: :class:`Threshold` holds a
metric, an operator and a number, and its failure text names the gate, the metric, the
threshold and the value. :func:`load_gates` validates the YAML (unknown keys or metrics are a
one-line :class:`~kequn.errors.ConfigError`); :func:`evaluate_gates` checks one MLflow run:

- ``privacy``: the run's lineage tags name a manifest, and when the clean zone (run tag
  ``kequn.clean_dir``) still exists its manifest is signed by a trusted step key, passed, is
  the same one and its residual scan was clean;
- ``quality``: metric floors per task;
- ``regression``: no regression beyond a tolerance against the current ``@champion``, both
  models scored on the candidate's held-out rows, re-materialised from the training table by
  reference (artifact ``eval/heldout_ref.json``, :mod:`experiments.heldout`; no rows are in
  MLflow) with the same metric function;
- ``fairness``: limits per task and protected attribute, read from ``fairness_<metric>_<attribute>``
  (by default equal opportunity and calibration within groups for churn and propensity scores;
  demographic parity is reported, and gates only where configured, e.g. a model that sets prices);
- ``uplift``: positive normalised Qini (``test_qini_auc``) for uplift models;
- ``model_privacy``: the membership-inference audit of :mod:`experiments.model_privacy`
  (``privacy_mia_auc``, ``privacy_mia_advantage``: worst case over the attacks;
  ``privacy_mia_auc_lower``: its 95 % lower confidence bound, what the shipped limit judges) within limits.

Each result is ``{"passed": bool, "applicable": bool, "detail": str, "checks": [...]}``.
"""

from __future__ import annotations

import json
import math
import operator
import re
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from kequn.config import StrictConfig, read_yaml_mapping
from kequn.errors import ConfigError, KequnError, RegistryError

TASKS = ("churn", "propensity", "segment", "uplift")
Task = Literal["churn", "propensity", "segment", "uplift"]
BINARY_METRICS = ("test_roc_auc", "test_pr_auc", "test_brier", "test_lift_top_decile")
#: Metrics a run of each task logs (DESIGN.md, CLI contract); the only names gates may use.
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "churn": BINARY_METRICS,
    "propensity": BINARY_METRICS,
    "uplift": ("test_qini_auc", "test_auuc", "test_uplift_at_30"),
    "segment": ("silhouette", "n_segments"),
}
FAIRNESS_METRICS = ("demographic_parity_ratio", "demographic_parity_difference", "equalized_odds_difference",
                    "equal_opportunity_difference", "calibration_difference", "positive_balance_difference")
#: Metrics the regression gate can recompute on the held-out set for both models.
REGRESSION_METRICS = ("test_roc_auc", "test_qini_auc")
GATE_NAMES = ("privacy", "quality", "regression", "fairness", "uplift", "model_privacy")
#: Metrics of the membership-inference audit (experiments.model_privacy) the model_privacy gate may use.
MODEL_PRIVACY_METRICS = ("privacy_mia_auc", "privacy_mia_auc_lower", "privacy_mia_advantage")
DEFAULT_GATES = Path(__file__).resolve().parents[1] / "conf" / "gates.yaml"
DEFAULT_LABELS = {"churn": "churn_label", "propensity": "propensity_label", "uplift": "response"}

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
}
_THRESHOLD_RE = re.compile(r"^\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?(?:[eE]-?\d+)?)\s*$")


@dataclass(frozen=True)
class Threshold:
    """``metric op value``, e.g. ``test_roc_auc >= 0.6``; ``check`` explains a failure."""

    gate: str
    metric: str
    op: str
    value: float

    @classmethod
    def parse(cls, gate: str, metric: str, text: Any, where: str) -> Threshold:
        match = _THRESHOLD_RE.match(str(text))
        if match is None:
            raise ConfigError(f"{where}: threshold must look like '>= 0.6' (op one of >=, >, <=, <). Got {text!r}")
        return cls(gate=gate, metric=metric, op=match.group(1), value=float(match.group(2)))

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"

    def check(self, actual: float | None, *, label: str | None = None) -> dict[str, Any]:
        """Compare ``actual`` with the threshold; a missing or NaN value fails."""
        name = label or self.metric
        if actual is None or (isinstance(actual, float) and math.isnan(actual)):
            return {"metric": name, "threshold": f"{self.op} {self.value:g}", "value": None, "passed": False,
                    "detail": f"{self.gate}: {name} was not logged by the run (needs {self.op} {self.value:g})"}
        passed = bool(_OPS[self.op](float(actual), self.value))
        verdict = "ok" if passed else "FAILED"
        return {"metric": name, "threshold": f"{self.op} {self.value:g}", "value": float(actual), "passed": passed,
                "detail": f"{self.gate}: {name} = {float(actual):.4f}, needs {self.op} {self.value:g}: {verdict}"}


_Strict = StrictConfig


class PrivacyConfig(_Strict):
    require_manifest_on_disk: bool = False


class RegressionConfig(_Strict):
    alias: str = "champion"
    tolerance: float = Field(default=0.01, ge=0.0)
    metric: dict[Task, str] = Field(default_factory=lambda: {"churn": "test_roc_auc", "propensity": "test_roc_auc",
                                                             "uplift": "test_qini_auc"})


class QualityConfig(_Strict):
    floors: dict[Task, dict[str, str]] = Field(default_factory=dict)
    regression: RegressionConfig = Field(default_factory=RegressionConfig)


class FairnessConfig(_Strict):
    tasks: list[Task] = Field(default_factory=lambda: ["churn", "propensity", "uplift"])
    attributes: list[str] = Field(default_factory=lambda: ["gender", "age_band"])
    #: ``metric: threshold`` (every task in ``tasks``) or ``task: {metric: threshold}`` (that
    #: task only, added to the flat ones): the gaps that gate a version.
    limits: dict[str, str | dict[str, str]] = Field(default_factory=dict)
    #: Gaps shown in the gate detail and model card but never a rejection.
    reported: list[str] = Field(default_factory=list)
    require_report: bool = True
    #: A limit breach rejects only when the gap is statistically significant at this level
    #: (the run's fairness_<test>_pvalue_<attribute>); null: reject on the number alone.
    significance: float | None = Field(default=0.05, gt=0.0, lt=1.0)
    #: Accepted gaps: attribute -> the documented business reason. The attribute is still
    #: measured and shown; a breach is reported with the reason instead of rejecting.
    exemptions: dict[str, str] = Field(default_factory=dict)

    @field_validator("exemptions")
    @classmethod
    def _reasons_required(cls, value: dict[str, str]) -> dict[str, str]:
        for attribute, reason in value.items():
            if not str(reason or "").strip():
                raise ValueError(f"exemption of {attribute!r} needs a documented reason")
        return value


class UpliftConfig(_Strict):
    min_qini: str = "> 0"


class ModelPrivacyConfig(_Strict):
    tasks: list[Task] = Field(default_factory=lambda: ["churn", "propensity", "uplift"])
    #: ``metric: threshold`` over :data:`MODEL_PRIVACY_METRICS`.
    limits: dict[str, str] = Field(default_factory=lambda: {"privacy_mia_auc_lower": "<= 0.6"})
    #: A run of a task in ``tasks`` without the audit's metrics is rejected.
    require_audit: bool = True


class GatesConfig(_Strict):
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    fairness: FairnessConfig = Field(default_factory=FairnessConfig)
    uplift: UpliftConfig = Field(default_factory=UpliftConfig)
    model_privacy: ModelPrivacyConfig = Field(default_factory=ModelPrivacyConfig)

    @field_validator("privacy", "quality", "fairness", "uplift", "model_privacy", mode="before")
    @classmethod
    def _none_is_default(cls, value: Any) -> Any:
        return {} if value is None else value


@dataclass(frozen=True)
class Gates:
    """The validated gates: configuration plus parsed :class:`Threshold` objects."""

    config: GatesConfig
    floors: dict[str, tuple[Threshold, ...]]
    #: task -> the fairness limits that gate a version of that task
    fairness_limits: dict[str, tuple[Threshold, ...]]
    min_qini: Threshold
    source: str
    #: SHA-256 of the gates file's bytes (recorded on the version, card and audit entry)
    sha256: str = ""
    #: the membership-inference limits (model_privacy.limits)
    model_privacy: tuple[Threshold, ...] = ()


def _validation_message(path: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"{path}: unknown key {where!r}"
    if err["type"] == "literal_error":
        return f"{path}: {where}: unknown task; known: {', '.join(TASKS)}. Got {err.get('input')!r}"
    return f"{path}: {where}: {err['msg']}. Got {err.get('input')!r}"


def load_gates(path: str | Path | None = None) -> Gates:
    """Read and validate a gates YAML (default: ``conf/gates.yaml``).

    Raises
    ------
    ConfigError
        One line naming the file and the key, for a missing file, bad YAML, an unknown key,
        task or metric, or a malformed threshold.
    """
    path = Path(path) if path is not None else DEFAULT_GATES
    raw = read_yaml_mapping(path, what="gates file")
    try:
        config = GatesConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_validation_message(str(path), exc)) from None
    floors: dict[str, tuple[Threshold, ...]] = {}
    for task, metrics in config.quality.floors.items():
        checks = []
        for metric, text in metrics.items():
            where = f"{path}: quality.floors.{task}.{metric}"
            if metric not in TASK_METRICS[task]:
                raise ConfigError(f"{where}: unknown metric for task {task}; known: "
                                  f"{', '.join(TASK_METRICS[task])}")
            checks.append(Threshold.parse("quality", metric, text, where))
        floors[task] = tuple(checks)
    for task, metric in config.quality.regression.metric.items():
        if metric not in REGRESSION_METRICS or metric not in TASK_METRICS[task]:
            raise ConfigError(f"{path}: quality.regression.metric.{task}: unknown or non-recomputable metric "
                              f"{metric!r}; known: {', '.join(m for m in REGRESSION_METRICS if m in TASK_METRICS[task]) or 'none'}")
    flat: dict[str, Threshold] = {}
    per_task: dict[str, dict[str, Threshold]] = {}
    for key, value in config.fairness.limits.items():
        if isinstance(value, dict):
            if key not in TASKS:
                raise ConfigError(f"{path}: fairness.limits.{key}: unknown task; known: {', '.join(TASKS)}")
            items, into = value.items(), per_task.setdefault(key, {})
            prefix = f"fairness.limits.{key}."
        else:
            items, into, prefix = [(key, value)], flat, "fairness.limits."
        for metric, text in items:
            where = f"{path}: {prefix}{metric}"
            if metric not in FAIRNESS_METRICS:
                raise ConfigError(f"{where}: unknown metric; known: {', '.join(FAIRNESS_METRICS)}")
            into[metric] = Threshold.parse("fairness", metric, text, where)
    for metric in config.fairness.reported:
        if metric not in FAIRNESS_METRICS:
            raise ConfigError(f"{path}: fairness.reported: unknown metric {metric!r}; known: "
                              f"{', '.join(FAIRNESS_METRICS)}")
    limits = {task: tuple({**flat, **per_task.get(task, {})}.values()) for task in config.fairness.tasks}
    min_qini = Threshold.parse("uplift", "test_qini_auc", config.uplift.min_qini, f"{path}: uplift.min_qini")
    privacy_limits = []
    for metric, text in config.model_privacy.limits.items():
        where = f"{path}: model_privacy.limits.{metric}"
        if metric not in MODEL_PRIVACY_METRICS:
            raise ConfigError(f"{where}: unknown metric; known: {', '.join(MODEL_PRIVACY_METRICS)}")
        privacy_limits.append(Threshold.parse("model_privacy", metric, text, where))
    from kequn.io import sha256_file

    return Gates(config=config, floors=floors, fairness_limits=limits, min_qini=min_qini, source=str(path),
                 sha256=sha256_file(path), model_privacy=tuple(privacy_limits))


# --------------------------------------------------------------------------------------------
# evaluation


def _result(passed: bool, detail: str, checks: list[dict[str, Any]] | None = None, *,
            applicable: bool = True) -> dict[str, Any]:
    return {"passed": bool(passed), "applicable": applicable, "detail": detail, "checks": checks or []}


def _not_applicable(detail: str) -> dict[str, Any]:
    return _result(True, detail, applicable=False)


def privacy_gate(tags: dict[str, str], gates: Gates) -> dict[str, Any]:
    """The training data came through a passing pseudonymisation with a clean residual scan."""
    manifest_id = tags.get("kequn.manifest_id")
    if not manifest_id or not tags.get("kequn.policy_hash"):
        return _result(False, "privacy: the run has no lineage tags (kequn.manifest_id, kequn.policy_hash); "
                              "it was not trained through the privacy firewall")
    clean_dir = tags.get("kequn.clean_dir", "")
    manifest_path = Path(clean_dir) / "manifest.json" if clean_dir else None
    if manifest_path is None or not manifest_path.is_file():
        if gates.config.privacy.require_manifest_on_disk:
            return _result(False, "privacy: the clean zone named by kequn.clean_dir is gone and "
                                  "privacy.require_manifest_on_disk is true")
        return _result(True, f"privacy: manifest {manifest_id} recorded at training (train accepts only a "
                             "passing manifest); the clean zone is no longer on disk")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return _result(False, f"privacy: {manifest_path} is not a readable manifest")
    if not isinstance(manifest, dict) or str(manifest.get("manifest_id")) != manifest_id:
        return _result(False, f"privacy: {manifest_path} now holds another manifest than the run's "
                              f"({manifest_id}); the training data cannot be verified")
    from kequn.errors import LineageError
    from kequn.lineage import verify_manifest

    try:
        verify_manifest(manifest, manifest_path)
    except LineageError as exc:
        return _result(False, f"privacy: {exc}")
    if manifest.get("status") != "passed":
        return _result(False, f"privacy: manifest {manifest_id} status is {manifest.get('status')!r}, needs 'passed'")
    scan = manifest.get("residual_scan")
    if isinstance(scan, dict) and (scan.get("clean") is False or (scan.get("findings") or 0) > 0):
        return _result(False, f"privacy: manifest {manifest_id} residual scan found "
                              f"{scan.get('findings')} direct identifier(s)")
    return _result(True, f"privacy: manifest {manifest_id} passed, residual scan clean, "
                         f"policy {tags.get('kequn.policy_hash')}")


def quality_gate(task: str, metrics: dict[str, float], gates: Gates) -> dict[str, Any]:
    """Metric floors for the run's task."""
    floors = gates.floors.get(task, ())
    if not floors:
        return _not_applicable(f"quality: no floors configured for task {task}")
    checks = [t.check(metrics.get(t.metric)) for t in floors]
    passed = all(c["passed"] for c in checks)
    return _result(passed, "; ".join(c["detail"] for c in checks), checks)


#: Which significance test backs each fairness limit.
PVALUE_OF = {
    "demographic_parity_ratio": "selection_rate_pvalue",
    "demographic_parity_difference": "selection_rate_pvalue",
    "equalized_odds_difference": "equalized_odds_pvalue",
    "equal_opportunity_difference": "true_positive_rate_pvalue",
    "calibration_difference": "calibration_pvalue",
    "positive_balance_difference": "positive_balance_pvalue",
}


def fairness_gate(task: str, metrics: dict[str, float], gates: Gates) -> dict[str, Any]:
    """Fairness limits per protected attribute from the run's ``fairness_*`` metrics."""
    cfg = gates.config.fairness
    limits = gates.fairness_limits.get(task, ())
    if task not in cfg.tasks or (not limits and not cfg.require_report):
        return _not_applicable(f"fairness: not checked for task {task}")
    if not any(k.startswith("fairness_") for k in metrics):
        if not cfg.require_report:
            return _result(True, "fairness: the run logged no fairness_* metrics (fairness.require_report is false)")
        return _result(False, "fairness: the run logged no fairness_* metrics (fairness report missing; "
                              "train with --protected naming the protected attributes)")
    checks, notes = [], []
    for limit in limits:
        prefix = f"fairness_{limit.metric}_"
        found = {k[len(prefix):]: v for k, v in metrics.items() if k.startswith(prefix)}
        for attribute in dict.fromkeys([*cfg.attributes, *sorted(found)]):
            if attribute in found:
                check = limit.check(found[attribute], label=f"{limit.metric}[{attribute}]")
                pvalue = metrics.get(f"fairness_{PVALUE_OF.get(limit.metric, '')}_{attribute}")
                if not check["passed"] and cfg.significance is not None and pvalue is not None \
                        and pvalue >= cfg.significance:
                    check = {**check, "passed": True,
                             "significant": False,
                             "detail": check["detail"].replace(": FAILED", "") +
                                       f", but the gap is within sampling noise (p = {pvalue:.3f} >= "
                                       f"{cfg.significance}): not a rejection"}
                if not check["passed"] and attribute in cfg.exemptions:
                    check = {**check, "passed": True, "exempt": True,
                             "detail": check["detail"].replace(": FAILED", "") +
                                       f", accepted by exemption ({cfg.exemptions[attribute]})"}
                checks.append(check)
            else:
                notes.append(f"{limit.metric}[{attribute}] not measured (attribute absent or groups too small)")
    gating = {t.metric for t in limits}
    for metric in cfg.reported:
        if metric in gating:
            continue
        prefix = f"fairness_{metric}_"
        for attribute, value in sorted((k[len(prefix):], v) for k, v in metrics.items() if k.startswith(prefix)):
            notes.append(f"{metric}[{attribute}] = {value:.4f} (reported, not a gate for task {task})")
    if not limits:
        notes.insert(0, f"no fairness limit gates task {task}; the report is required and shown")
    passed = all(c["passed"] for c in checks)
    detail = "; ".join([c["detail"] for c in checks] + [f"fairness: {n}" for n in notes])
    return _result(passed, detail or "fairness: nothing to check", checks)


def uplift_gate(task: str, metrics: dict[str, float], gates: Gates) -> dict[str, Any]:
    """Uplift models must show a positive normalised Qini on the held-out set."""
    if task != "uplift":
        return _not_applicable(f"uplift: not an uplift model (task {task})")
    check = gates.min_qini.check(metrics.get("test_qini_auc"))
    return _result(check["passed"], check["detail"], [check])


def model_privacy_gate(task: str, metrics: dict[str, float], gates: Gates) -> dict[str, Any]:
    """Membership-inference limits: an attacker must not tell training customers from others.

    Stops a model that memorised its training rows (e.g. deep trees grown to single customers)
    from being promoted: its loss on training customers is lower than on others, so whoever can
    query it learns who was in the bank's training extract.
    """
    cfg = gates.config.model_privacy
    if task not in cfg.tasks or not gates.model_privacy:
        return _not_applicable(f"model_privacy: not checked for task {task}")
    if not any(t.metric in metrics for t in gates.model_privacy):
        if not cfg.require_audit:
            return _result(True, "model_privacy: the run logged no membership-inference audit "
                                 "(model_privacy.require_audit is false)")
        return _result(False, "model_privacy: the run logged no membership-inference audit (privacy_mia_auc); "
                              "retrain with this version of kequn")
    checks = [t.check(metrics.get(t.metric)) for t in gates.model_privacy]
    detail = "; ".join(c["detail"] for c in checks)
    attacks = [f"{a} {metrics[f'privacy_mia_{a}_auc']:.3f}" for a in ("threshold", "attack_model", "shadow")
               if f"privacy_mia_{a}_auc" in metrics]
    if attacks:
        detail += f" (attack AUCs: {', '.join(attacks)})"
    return _result(all(c["passed"] for c in checks), detail, checks)


def positive_scores(model_uri: str, frame: Any) -> Any:
    """Positive-class scores of a logged binary model on ``frame`` (a NumPy array).

    Uses the native flavour's ``predict_proba`` when the model has one (sklearn, XGBoost),
    else the pyfunc output (a probability column, or the second of two class columns).
    """
    import mlflow
    import numpy as np
    import pandas as pd

    info = mlflow.models.get_model_info(model_uri)
    if info.signature is not None and info.signature.inputs is not None:
        names = info.signature.inputs.input_names()
        if names and all(isinstance(n, str) for n in names):
            missing = [n for n in names if n not in frame.columns]
            if missing:
                raise RegistryError(f"{model_uri}: the held-out set lacks {len(missing)} of the model's input "
                                    f"columns (first: {missing[0]!r})")
            frame = frame[names]
    # Parquet round-trips pandas categoricals; MLflow's schema enforcement wants plain strings.
    categorical = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    if categorical:
        frame = frame.astype({c: object for c in categorical})
    for flavor, loader in (("sklearn", "mlflow.sklearn"), ("xgboost", "mlflow.xgboost")):
        if flavor in info.flavors:
            import importlib

            native = importlib.import_module(loader).load_model(model_uri)
            if hasattr(native, "predict_proba"):
                return np.asarray(native.predict_proba(frame))[:, 1].astype(float)
    from experiments.packaging import load_pyfunc

    out = load_pyfunc(model_uri).predict(frame)
    if isinstance(out, pd.DataFrame):
        for col in ("score", "probability", "proba", "p1", "prediction"):
            if col in out.columns:
                return out[col].to_numpy(dtype=float)
        out = out.to_numpy()
    arr = np.asarray(out, dtype=float)
    if arr.ndim == 2:
        arr = arr[:, -1]
    return arr


def _metric_function(metric: str) -> Callable[[Any, Any, Any], float]:
    """The function training used for ``metric``: ``fn(y, score, treatment)``."""
    if metric == "test_qini_auc":
        from experiments.uplift_metrics import qini_coefficient

        return lambda y, s, t: float(qini_coefficient(y, t, s))
    from sklearn.metrics import roc_auc_score

    return lambda y, s, t: float(roc_auc_score(y, s))


def regression_gate(run: Any, task: str, name: str, candidate_uri: str, gates: Gates,
                    client: Any) -> dict[str, Any]:
    """Candidate vs the current alias holder, both scored on the candidate's held-out set."""
    import mlflow
    import numpy as np
    from mlflow.exceptions import MlflowException

    from experiments.heldout import REFERENCE_ARTIFACT, materialise
    from experiments.uplift.model import plain_columns

    reg = gates.config.quality.regression
    metric = reg.metric.get(task)
    if metric is None:
        return _not_applicable(f"regression: no comparison metric configured for task {task}")
    try:
        champion = client.get_model_version_by_alias(name, reg.alias)
    except MlflowException:
        return _result(True, f"regression: no @{reg.alias} yet; nothing to compare with")
    if champion.run_id == run.info.run_id:
        return _result(True, f"regression: @{reg.alias} v{champion.version} is the same run")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path=REFERENCE_ARTIFACT,
                                                        dst_path=tmp)
            ref = json.loads(Path(local).read_text(encoding="utf-8"))
    except (MlflowException, OSError, json.JSONDecodeError, UnicodeDecodeError):
        return _result(False, f"regression: the run has no held-out reference {REFERENCE_ARTIFACT} (runs keep the "
                              f"held-out rows by reference since issue 13: retrain); cannot compare with "
                              f"@{reg.alias} v{champion.version}")
    try:
        held = materialise(ref)
    except KequnError as exc:
        return _result(False, f"regression: {exc}")
    y, t = held.y, held.treatment
    if task == "uplift" and t is None:
        return _result(False, f"regression: {REFERENCE_ARTIFACT} names no treatment column; {metric} undefined")
    features = plain_columns(held.rows)
    if len(np.unique(y)) < 2:
        return _result(False, f"regression: the held-out set holds one class only; {metric} undefined")
    fn = _metric_function(metric)
    scores = {}
    for who, uri in (("candidate", candidate_uri), ("champion", f"models:/{name}/{champion.version}")):
        try:
            with warnings.catch_warnings():  # pyfunc loading warns about type hints and pickles
                warnings.simplefilter("ignore")
                scores[who] = fn(y, positive_scores(uri, features), t)
        except RegistryError as exc:
            return _result(False, f"regression: cannot score the {who}: {exc}")
        except Exception as exc:  # a foreign model may fail in many ways; report the type only
            return _result(False, f"regression: cannot score the {who} on the held-out set ({type(exc).__name__})")
    if any(math.isnan(v) for v in scores.values()):
        return _result(False, f"regression: {metric} is undefined on the held-out set (no signal to compare)")
    floor = scores["champion"] - reg.tolerance
    passed = scores["candidate"] >= floor
    check = {"metric": metric, "threshold": f">= {floor:.4f}", "value": scores["candidate"], "passed": passed,
             "champion_version": str(champion.version), "champion_value": scores["champion"],
             "tolerance": reg.tolerance}
    verdict = "ok" if passed else "FAILED"
    detail = (f"regression: {metric} = {scores['candidate']:.4f} vs @{reg.alias} v{champion.version} "
              f"{scores['champion']:.4f} on the same held-out set (tolerance {reg.tolerance:g}): {verdict}")
    champion_tags = _run_tags(client, champion.run_id)
    same_table = champion_tags.get("kequn.table_digest") and \
        champion_tags.get("kequn.table_digest") == run.data.tags.get("kequn.table_digest")
    if same_table and champion_tags.get("kequn.seed") != run.data.tags.get("kequn.seed"):
        detail += ("; note: the champion was trained on the same table with another split seed, so part of "
                   "this held-out set may be in its training data (its number is optimistic)")
    check["detail"] = detail
    return _result(passed, detail, [check])


def _run_tags(client: Any, run_id: str | None) -> dict[str, str]:
    try:
        return dict(client.get_run(run_id).data.tags) if run_id else {}
    except Exception:  # a deleted champion run: no note, the comparison itself already ran
        return {}


def evaluate_gates(run: Any, *, name: str, candidate_uri: str, gates: Gates, client: Any) -> dict[str, dict[str, Any]]:
    """Evaluate every gate on an MLflow run; returns ``{gate: result}`` in :data:`GATE_NAMES` order."""
    tags, metrics = dict(run.data.tags), dict(run.data.metrics)
    task = tags.get("kequn.task", "")
    return {
        "privacy": privacy_gate(tags, gates),
        "quality": quality_gate(task, metrics, gates),
        "regression": regression_gate(run, task, name, candidate_uri, gates, client),
        "fairness": fairness_gate(task, metrics, gates),
        "uplift": uplift_gate(task, metrics, gates),
        "model_privacy": model_privacy_gate(task, metrics, gates),
    }
