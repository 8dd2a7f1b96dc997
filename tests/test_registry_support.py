"""Real MLflow runs shaped like `kequn train` runs, for the registry and gates tests.

Mirrors the training contract: a model under artifact path ``model`` (sklearn, predict_proba
as pyfunc), tags ``kequn.author`` / ``kequn.task`` / lineage, metrics ``test_roc_auc`` and
``fairness_*`` (from experiments.fairness), artifact ``eval/heldout_ref.json`` (the held-out
rows by reference: a signed clean table of the run's data in ``tmp`` and the rows' positions).
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from kequn.tracking import AUTHOR_TAG, current_user

N = 400


def bank_frame(seed: int = 0) -> pd.DataFrame:
    """Pseudonymised-looking features with a churn label driven mostly by aum_trend."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"aum_trend": rng.normal(size=N), "txn_count_90d": rng.normal(size=N)})
    logit = 2.5 * frame["aum_trend"] + 0.8 * frame["txn_count_90d"]
    frame["churn_label"] = (logit + rng.normal(size=N) > 0).astype(int)
    frame["gender"] = np.where(np.arange(N) % 2 == 0, "男", "女")
    return frame


def make_run(tmp: Path, *, strength: str = "good", task: str = "churn", clean_dir: Path | None = None,
             fairness_override: dict[str, float] | None = None, with_model: bool = True,
             seed: int = 0) -> str:
    """Train and log one run; ``strength`` good (uses both features), weak (aum_trend blinded) or
    memorise (a fully grown tree on labels with 30% flipped: overfitted, leaks membership)."""
    import mlflow
    from sklearn.linear_model import LogisticRegression

    from experiments.fairness import assess_and_log
    from kequn.tracking import configure_tracking

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    configure_tracking()
    data = bank_frame(seed)
    train, test = data.iloc[: N // 2], data.iloc[N // 2:].reset_index(drop=True)
    features = ["aum_trend", "txn_count_90d"]
    x_train = train[features].copy()
    if strength == "weak":
        x_train["aum_trend"] = np.random.default_rng(seed + 1).normal(size=len(x_train))
    y_train = train["churn_label"]
    if strength == "memorise":  # deliberately overfitted: a tree grown to single customers on noisy labels
        from sklearn.tree import DecisionTreeClassifier

        flip = np.random.default_rng(seed + 2).random(len(y_train)) < 0.3
        y_train = y_train.where(~flip, 1 - y_train)
        model = DecisionTreeClassifier(random_state=seed).fit(x_train, y_train)
    else:
        model = LogisticRegression().fit(x_train, y_train)
    score = model.predict_proba(test[features])[:, 1]
    mlflow.set_experiment(f"kequn-{task}")
    with mlflow.start_run() as run:
        tags = {AUTHOR_TAG: current_user(), "kequn.task": task, "kequn.manifest_id": "m-123",
                "kequn.policy_hash": "test-policy-hash", "kequn.key_fingerprint": "kf"}
        if clean_dir is not None:
            manifest = json.loads((clean_dir / "manifest.json").read_text(encoding="utf-8"))
            tags.update({"kequn.clean_dir": str(clean_dir), "kequn.manifest_id": manifest["manifest_id"],
                         "kequn.policy_hash": manifest["policy_hash"]})
        mlflow.set_tags(tags)
        from sklearn.metrics import roc_auc_score

        mlflow.log_metric("test_roc_auc", float(roc_auc_score(test["churn_label"], score)))
        mlflow.log_metrics(_membership_audit(model, x_train, test[features], y_train,
                                             test["churn_label"], seed))
        assess_and_log(test["churn_label"].to_numpy(), score, test[["gender"]], threshold=0.5, min_group_size=30)
        if fairness_override:
            mlflow.log_metrics(fairness_override)
        if with_model:
            signature = mlflow.models.infer_signature(test[features], score)
            trusted = {"skops_trusted_types": ["sklearn.tree._tree.Tree"]} if strength == "memorise" else {}
            mlflow.sklearn.log_model(model, name="model", signature=signature, pyfunc_predict_fn="predict_proba",
                                     pip_requirements=["scikit-learn"], **trusted)  # skip slow inference
        log_heldout_ref(tmp, data, np.arange(N // 2, N), task=task, label="churn_label", treatment=None)
    return run.info.run_id


def log_heldout_ref(tmp: Path, table: pd.DataFrame, positions: np.ndarray, *, task: str, label: str,
                    treatment: str | None) -> Path:
    """Write ``table`` as a signed clean table under ``tmp`` and log the reference to its rows at
    ``positions`` (what `kequn train` logs); returns the table's path."""
    import mlflow

    from experiments.heldout import REFERENCE_ARTIFACT, reference, write_reference
    from tests.conftest import make_clean_zone

    zone = make_clean_zone(tmp / f"heldout_{uuid.uuid4().hex[:8]}", {"features": table})
    path = zone / "features.parquet"
    ref = reference(path=path, positions=positions, n_rows=len(table), task=task, label=label, positive=None,
                    treatment=treatment, seed=0)
    folder = tmp / f"eval_{uuid.uuid4().hex[:8]}"
    write_reference(folder, ref)
    mlflow.log_artifact(str(folder / REFERENCE_ARTIFACT), "eval")
    return path


def _membership_audit(model, x_train, x_test, y_train, y_test, seed: int) -> dict[str, float]:
    """The training pipeline's membership-inference audit (experiments.model_privacy) of a fitted model."""
    from experiments.model_privacy import audit_membership

    x = pd.concat([x_train, x_test], ignore_index=True)
    y = np.concatenate([np.asarray(y_train), np.asarray(y_test)]).astype(float)
    return audit_membership(members=np.arange(len(x_train)), nonmembers=np.arange(len(x_train), len(x)),
                            target=y, kind="binary", seed=seed,
                            predict=lambda rows: model.predict_proba(x.iloc[rows])[:, 1])


def _uplift_audit(model, frame: pd.DataFrame, seed: int) -> dict[str, float]:
    """Audit of a fixed uplift model (trained on nothing): both halves are non-members in truth."""
    from experiments.model_privacy import audit_membership

    target = frame[["treatment", "response"]].to_numpy(dtype=float)
    half = len(frame) // 2
    return audit_membership(members=np.arange(half), nonmembers=np.arange(half, len(frame)), target=target,
                            kind="uplift", seed=seed, predict=lambda rows: model.predict(None, frame.iloc[rows]))


def uplift_model(w: float, v: float):
    """An MLflow PythonModel predicting uplift = w · x + v · noise."""
    from mlflow.pyfunc import PythonModel

    class _Uplift(PythonModel):
        def __init__(self) -> None:
            self.w, self.v = w, v

        def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
            frame = pd.DataFrame(model_input)
            return (self.w * frame["x"] + self.v * frame["noise"]).to_numpy(dtype=float)

    return _Uplift()


def uplift_frame(seed: int) -> pd.DataFrame:
    """Randomised campaign: treatment helps only customers with x > 0."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": rng.normal(size=N), "noise": rng.normal(size=N),
                          "treatment": rng.integers(0, 2, size=N)})
    p = 0.2 + 0.3 * frame["treatment"] * (frame["x"] > 0)
    frame["response"] = (rng.random(N) < p).astype(int)
    return frame


def make_uplift_run(tmp: Path, *, clean_dir: Path, w: float = 1.0, v: float = 0.0, seed: int = 0) -> str:
    """An uplift run: pyfunc predicting uplift, test_qini_auc from experiments.uplift_metrics."""
    import mlflow

    from experiments.uplift_metrics import qini_coefficient
    from kequn.tracking import configure_tracking

    configure_tracking()
    test = uplift_frame(seed)
    model = uplift_model(w, v)
    score = model.predict(None, test)
    manifest = json.loads((clean_dir / "manifest.json").read_text(encoding="utf-8"))
    mlflow.set_experiment("kequn-uplift")
    with mlflow.start_run() as run:
        mlflow.set_tags({AUTHOR_TAG: current_user(), "kequn.task": "uplift", "kequn.clean_dir": str(clean_dir),
                         "kequn.manifest_id": manifest["manifest_id"], "kequn.policy_hash": manifest["policy_hash"]})
        mlflow.log_params({"label": "response", "treatment": "treatment"})
        mlflow.log_metric("test_qini_auc", float(qini_coefficient(test["response"], test["treatment"], score)))
        mlflow.log_metric("fairness_n_small_groups_gender", 0.0)
        mlflow.log_metrics(_uplift_audit(model, test, seed))
        log_heldout_ref(tmp, test, np.arange(N), task="uplift", label="response", treatment="treatment")
        signature = mlflow.models.infer_signature(test[["x", "noise"]], score)
        mlflow.pyfunc.log_model(name="model", python_model=model, signature=signature,
                                pip_requirements=["mlflow"])
    return run.info.run_id
