"""The one MLflow run wrapper of every training task, and the run-level logging helpers.

:func:`training_run` opens the study's parent run (tags, dataset record, FAILED on error) for
churn/propensity (:func:`experiments.train.train_tracked_binary`), segment and uplift alike;
:class:`RunLogger` batches params/metrics/tags and makes one nested run per Optuna trial.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from kequn.errors import KequnError
from kequn.lineage import Lineage

__all__ = ["RunLogger", "git_commit", "log_dataset", "package_versions", "run_tags", "training_run"]

VERSIONED_PACKAGES = ("kequn", "mlflow", "xgboost", "optuna", "scikit-learn", "pandas", "numpy", "pyarrow")
MAX_PARAM_LENGTH = 6000


def git_commit() -> str:
    """The commit of the working tree the code runs from, or ``"unknown"``."""
    try:
        out = subprocess.run(["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else "unknown"


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def run_tags(task: str, lineage: Lineage, seed: int, digest: str) -> dict[str, str]:
    """Tags every training run carries: author, task, lineage, code version, packages, seed."""
    from kequn.tracking import AUTHOR_TAG, current_user

    commit = git_commit()
    tags = {AUTHOR_TAG: current_user(), "kequn.task": task, "kequn.seed": str(seed),
            "kequn.table_digest": digest, "kequn.git_commit": commit, "mlflow.source.git.commit": commit,
            **lineage.tags()}
    if lineage.table:
        tags["kequn.table"] = lineage.table
    tags.update({f"kequn.version.{k}": v for k, v in package_versions().items()})
    return tags


def log_dataset(frame: pd.DataFrame, *, path: Path, lineage: Lineage, digest: str, label: str | None,
                exclude: list[str]) -> None:
    """Record the training table with ``mlflow.log_input``: name, digest, source path, schema and
    row/element counts only (MLflow stores no row content). Excluded (id) columns are left out."""
    import warnings

    import mlflow

    kept = frame.drop(columns=[c for c in exclude if c in frame.columns])
    with warnings.catch_warnings():  # schema hints and source-type ambiguity: not the user's concern
        warnings.simplefilter("ignore")
        dataset = mlflow.data.from_pandas(kept, source=str(Path(path).resolve()),
                                          name=lineage.table or Path(path).stem, digest=digest,
                                          targets=label if label in kept.columns else None)
        mlflow.log_input(dataset, context="training")


class RunLogger:
    """Batched logging to one run, and a per-trial callback that makes nested runs."""

    def __init__(self, run_id: str, experiment_id: str) -> None:
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient()
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.experiment_name = ""

    @staticmethod
    def _params(params: dict[str, Any]) -> list[Any]:
        from mlflow.entities import Param

        return [Param(str(k), ("none" if v is None else str(v))[:MAX_PARAM_LENGTH]) for k, v in params.items()]

    def log_params(self, params: dict[str, Any]) -> None:
        self.client.log_batch(self.run_id, params=self._params(params))

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        import math
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        rows = [Metric(k, float(v), now, step) for k, v in metrics.items()
                if v is not None and math.isfinite(float(v))]
        for start in range(0, len(rows), 900):
            self.client.log_batch(self.run_id, metrics=rows[start:start + 900])

    def set_tags(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)[:5000]) for k, v in tags.items()])

    def log_artifacts(self, directory: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(self.run_id, str(directory), artifact_path)

    def trial_callback(self, study: Any, trial: Any) -> None:
        """Optuna callback: one nested run per finished trial (params, CV score, state)."""
        import time

        from mlflow.entities import Metric, RunTag

        run = self.client.create_run(self.experiment_id, run_name=f"trial-{trial.number:03d}",
                                     tags={"mlflow.parentRunId": self.run_id})
        now = int(time.time() * 1000)
        metrics = [Metric("cv_roc_auc_fold_mean", float(v), now, int(step))
                   for step, v in sorted(trial.intermediate_values.items())]
        if trial.value is not None:
            metrics.append(Metric("cv_roc_auc", float(trial.value), now, 0))
        tags = [RunTag("optuna.state", trial.state.name), RunTag("optuna.study", study.study_name),
                RunTag("optuna.trial", str(trial.number))]
        if "kequn.worker" in trial.user_attrs:  # parallel tuning (experiments.workers)
            tags.append(RunTag("kequn.worker", str(trial.user_attrs["kequn.worker"])))
        params = self._params({**trial.params, "n_estimators": trial.user_attrs.get("n_estimators")})
        self.client.log_batch(run.info.run_id, metrics=metrics, params=params, tags=tags)
        self.client.set_terminated(run.info.run_id, status="FINISHED" if trial.value is not None else "KILLED")


@contextlib.contextmanager
def training_run(task: str, experiment: str | None, lineage: Lineage, *, seed: int, digest: str | None,
                 frame: pd.DataFrame, path: Path, label: str | None, exclude: list[str]) -> Iterator[RunLogger]:
    """The one MLflow run of a training (every task): the study's parent run.

    Starts the run in ``experiment`` (default ``kequn-<task>``; inside ``mlflow run`` the
    project's run), tags it with :func:`run_tags`, records the training table with
    :func:`log_dataset` (``exclude``: id columns; ``digest`` computed when not given) and yields a :class:`RunLogger`.
    When the body has logged the model, the monitoring reference (per-feature bins and the
    score distribution, :mod:`experiments.reference`) is logged too. On any error
    the run ends FAILED (tag ``kequn.error``) and the error is re-raised.
    """
    import logging
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    from kequn.tracking import configure_tracking

    # mlflow.pyfunc warns about cloudpickle for every python_model; the class is ours.
    logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)
    # Store creation and migration notes at INFO are noise on the CLI's stderr.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    configure_tracking()
    if not digest:
        from experiments.data import table_digest

        digest = table_digest(frame)
    tags = run_tags(task, lineage, seed, digest)
    run_name = f"{task}-{digest[:8]}-seed{seed}"
    name = experiment or f"kequn-{task}"
    launched = os.environ.get("MLFLOW_RUN_ID")
    project_experiment = _project_experiment(launched, experiment) if launched else None
    if project_experiment is not None:  # `mlflow run --experiment-name X . -e train`: log into its run
        run = mlflow.start_run(run_id=launched, tags={**tags, "mlflow.runName": run_name})
        experiment_id, name = run.info.experiment_id, project_experiment
    else:
        if launched:
            # `mlflow run . -e train` put its run in Default: the study goes to `name`, as printed,
            # and the two runs name each other.
            os.environ.pop("MLFLOW_RUN_ID", None)
            tags = {**tags, "kequn.project_run_id": launched}
        experiment_id = mlflow.set_experiment(name).experiment_id
        run = mlflow.start_run(run_name=run_name, tags=tags)
        if launched:
            mlflow.MlflowClient().set_tag(launched, "kequn.study_run_id", run.info.run_id)
            mlflow.MlflowClient().set_tag(launched, "kequn.study_experiment", name)
    logger = RunLogger(run.info.run_id, experiment_id)
    logger.experiment_name = name
    try:
        log_dataset(frame, path=path, lineage=lineage, digest=digest, label=label, exclude=exclude)
        yield logger
        # The aggregates `kequn monitor` compares later snapshots with (no rows).
        from experiments.reference import log_reference

        log_reference(logger.run_id, frame, task=task, digest=digest)
    except BaseException as exc:
        message = str(exc) if isinstance(exc, KequnError) else f"internal error ({type(exc).__name__})"
        with contextlib.suppress(Exception):
            mlflow.set_tag("kequn.error", message[:500])
        mlflow.end_run(status="FAILED")
        raise
    mlflow.end_run(status="FINISHED")


def _project_experiment(run_id: str, experiment: str | None) -> str | None:
    """The experiment of the `mlflow run` project run when the study should log into that run.

    It should unless the project run sits in MLflow's ``Default`` experiment (plain
    ``mlflow run . -e train``) or ``--experiment`` names another one.
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    found = client.get_experiment(client.get_run(run_id).info.experiment_id).name
    if experiment is not None:
        return found if found == experiment else None
    return None if found == "Default" else found
