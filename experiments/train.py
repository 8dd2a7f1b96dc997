"""``kequn train``: the entry point, task dispatch and the run-level MLflow helpers.

:func:`run_training` reads the table through the privacy firewall, prepares it
(:func:`experiments.data.prepare`) and dispatches:

- ``churn`` / ``propensity`` → :func:`experiments.binary.train_binary` inside one parent run;
- ``segment`` → ``experiments.segment.train_segment(**kwargs)``;
- ``uplift`` → ``experiments.uplift.train_uplift(**kwargs)``;

where ``kwargs`` are :func:`run_training`'s own keyword arguments plus ``prepared``
(:class:`~experiments.data.Prepared`), ``frame`` (the loaded table), ``lineage`` and ``digest``
(only those the function accepts are passed). Those functions return the same dict as
:func:`run_training` (``run_id``, ``metrics``, ``summary``) and may reuse :class:`RunLogger`,
:func:`run_tags`, :func:`log_dataset` and :func:`parent_run` from here.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from kequn import console
from kequn.errors import KequnError, TrainingError
from kequn.lineage import Lineage

# OpenMP threads spin while waiting by default; on a shared, oversubscribed machine that makes
# XGBoost with nthread=2 up to 100x slower (measured: 87 s vs 0.8 s for one small fit). Passive
# waiting must be set before the OpenMP runtime loads, hence at import time.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

TASKS = ("churn", "propensity", "segment", "uplift")
BINARY_TASKS = ("churn", "propensity")
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
        params = self._params({**trial.params, "n_estimators": trial.user_attrs.get("n_estimators")})
        self.client.log_batch(run.info.run_id, metrics=metrics, params=params, tags=tags)
        self.client.set_terminated(run.info.run_id, status="FINISHED" if trial.value is not None else "KILLED")


@contextlib.contextmanager
def parent_run(task: str, experiment: str | None, *, run_name: str, tags: dict[str, str]) -> Iterator[RunLogger]:
    """Start the study's parent run; on any error end it FAILED (tag ``kequn.error``) and re-raise."""
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
        yield logger
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


def _feature_dictionary(logger: RunLogger) -> None:
    """Log the feature dictionary when the features package provides one."""
    import tempfile

    try:
        from features.dictionary import write_dictionary
    except ImportError:
        return
    with tempfile.TemporaryDirectory(prefix="kequn-dict-") as tmp:
        write_dictionary(Path(tmp))
        logger.log_artifacts(Path(tmp), "feature_dictionary")


def _dispatch_other(task: str, kwargs: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    import importlib

    module_name, func_name = {"segment": ("experiments.segment", "train_segment"),
                              "uplift": ("experiments.uplift", "train_uplift")}[task]
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise TrainingError(f"--task {task} is not available in this installation ({module_name})") from exc
    accepted = inspect.signature(func).parameters
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    merged = {**kwargs, **extra}
    return func(**{k: v for k, v in merged.items() if takes_all or k in accepted})


def run_training(*, task: str, data: str | Path, label: str | None = None, positive: str | None = None,
                 treatment: str | None = None, id_col: str | None = None, protected: list[str] | None = None,
                 trials: int = 20, timeout: float | None = None, experiment: str | None = None,
                 seed: int = 42) -> dict[str, Any]:
    """Train one tracked experiment (see the module docstring).

    Returns
    -------
    dict
        ``run_id``, ``metrics`` (held-out metrics named as in DESIGN.md, baseline and CV
        metrics, fairness metrics) and ``summary`` (a few readable lines).

    Raises
    ------
    LineageError
        The data is not a pseudonymised table.
    TrainingError
        Unknown task, bad label/columns/options, too few rows; a run that started ends FAILED.
    """
    from experiments.data import load_training_table, prepare, table_digest

    if task not in TASKS:
        raise TrainingError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if trials < 1:
        raise TrainingError(f"--trials must be at least 1. Got {trials}")
    if timeout is not None and timeout <= 0:
        raise TrainingError(f"--timeout must be positive. Got {timeout}")
    protected = list(protected or [])
    data = Path(data)
    with console.stage("loading the training table") as st:
        frame, lineage = load_training_table(data)
        prepared = prepare(frame, task=task, label=label, positive=positive, id_col=id_col,
                           treatment=treatment, protected=protected)
        digest = table_digest(frame)
        st.done(f"{len(frame)} rows, {len(prepared.feature_names)} features, digest {digest}")
    kwargs = {"task": task, "data": data, "label": label, "positive": positive, "treatment": treatment,
              "id_col": id_col, "protected": protected, "trials": trials, "timeout": timeout,
              "experiment": experiment, "seed": seed}
    if task not in BINARY_TASKS:
        return _dispatch_other(task, kwargs, {"prepared": prepared, "frame": frame, "lineage": lineage,
                                              "digest": digest})
    return train_tracked_binary(prepared, task=task, frame=frame, lineage=lineage, data=data, digest=digest,
                                trials=trials, timeout=timeout, experiment=experiment, seed=seed)


def train_tracked_binary(prepared: Any, *, task: str, frame: pd.DataFrame, lineage: Lineage, data: Path,
                         digest: str, trials: int, timeout: float | None, experiment: str | None,
                         seed: int) -> dict[str, Any]:
    """Churn/propensity inside one parent MLflow run (see :mod:`experiments.binary`)."""
    from experiments.binary import require_binary, train_binary

    require_binary(prepared, task)
    tags = run_tags(task, lineage, seed, digest)
    with parent_run(task, experiment, run_name=f"{task}-{digest[:8]}-seed{seed}", tags=tags) as logger:
        log_dataset(frame, path=data, lineage=lineage, digest=digest, label=prepared.label,
                    exclude=[c for c, why in prepared.excluded.items() if why != "label"
                             and c not in prepared.sensitive.columns])
        _feature_dictionary(logger)
        result = train_binary(prepared, task=task, lineage=lineage, frame=frame, data_path=data, digest=digest,
                              trials=trials, timeout=timeout, seed=seed, tracker=logger)
        run_id = logger.run_id
    summary = "\n".join([*result["summary"], f"MLflow run {run_id} (experiment {logger.experiment_name})"])
    return {"run_id": run_id, "metrics": result["metrics"], "summary": summary}
