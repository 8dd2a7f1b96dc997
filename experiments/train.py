"""``kequn train``: the entry point, task dispatch and the run-level MLflow helpers.

:func:`run_training` reads the table through the privacy firewall, prepares it
(:func:`experiments.data.prepare`) and dispatches:

- ``churn`` / ``propensity`` → :func:`experiments.binary.train_binary` inside one parent run;
- ``segment`` → :func:`experiments.segment.train_segment`;
- ``uplift`` → :func:`experiments.uplift.train_uplift`;

each called with :func:`run_training`'s own keyword arguments plus ``prepared``
(:class:`~experiments.data.Prepared`), ``frame`` (the loaded table), ``lineage`` and ``digest``.
They return the same dict as :func:`run_training` (``run_id``, ``metrics``, ``summary``) and log
inside the one run wrapper :func:`experiments.runs.training_run`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from experiments.runs import RunLogger, training_run
from kequn import console
from kequn.errors import TrainingError
from kequn.lineage import Lineage

TASKS = ("churn", "propensity", "segment", "uplift")
BINARY_TASKS = ("churn", "propensity")


def _feature_dictionary(logger: RunLogger) -> None:
    """Log the feature dictionary of the feature registry."""
    import tempfile

    from features.dictionary import write_dictionary

    with tempfile.TemporaryDirectory(prefix="kequn-dict-") as tmp:
        write_dictionary(Path(tmp))
        logger.log_artifacts(Path(tmp), "feature_dictionary")


def run_training(*, task: str, data: str | Path, label: str | None = None, positive: str | None = None,
                 treatment: str | None = None, id_col: str | None = None, protected: list[str] | None = None,
                 trials: int = 20, timeout: float | None = None, experiment: str | None = None,
                 seed: int = 42, dp_epsilon: float | None = None, workers: int = 1) -> dict[str, Any]:
    """Train one tracked experiment (see the module docstring).

    ``dp_epsilon`` (churn/propensity only) trains the differentially private logistic
    regression of :mod:`experiments.dp` instead. ``workers`` > 1 tunes churn/propensity in
    that many processes on one Optuna study (:mod:`experiments.workers`).

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
    if dp_epsilon is not None and task not in BINARY_TASKS:
        raise TrainingError(f"--dp-epsilon applies to churn and propensity only. Got --task {task}")
    if dp_epsilon is not None and not dp_epsilon > 0:
        raise TrainingError(f"--dp-epsilon must be a positive number. Got {dp_epsilon}")
    from experiments.workers import MAX_WORKERS

    if not 1 <= workers <= MAX_WORKERS:
        raise TrainingError(f"--workers must be between 1 and {MAX_WORKERS}. Got {workers}")
    if workers > 1 and task not in BINARY_TASKS:
        raise TrainingError(f"--workers applies to the Optuna search of churn and propensity; "
                            f"{task} is tuned in one process (omit --workers)")
    if dp_epsilon is not None and workers > 1:
        raise TrainingError("--dp-epsilon trains without an Optuna search; omit --workers")
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
    if task == "segment":
        from experiments.segment import train_segment

        return train_segment(**kwargs, prepared=prepared, frame=frame, lineage=lineage, digest=digest)
    if task == "uplift":
        from experiments.uplift import train_uplift

        return train_uplift(**kwargs, prepared=prepared, frame=frame, lineage=lineage, digest=digest)
    if dp_epsilon is not None:
        from experiments.dp import train_tracked_dp

        return train_tracked_dp(prepared, task=task, frame=frame, lineage=lineage, data=data, digest=digest,
                                epsilon=dp_epsilon, experiment=experiment, seed=seed)
    return train_tracked_binary(prepared, task=task, frame=frame, lineage=lineage, data=data, digest=digest,
                                trials=trials, timeout=timeout, experiment=experiment, seed=seed,
                                positive=positive, workers=workers)


def train_tracked_binary(prepared: Any, *, task: str, frame: pd.DataFrame, lineage: Lineage, data: Path,
                         digest: str, trials: int, timeout: float | None, experiment: str | None,
                         seed: int, positive: str | None = None, workers: int = 1) -> dict[str, Any]:
    """Churn/propensity inside one parent MLflow run (see :mod:`experiments.binary`)."""
    from experiments.binary import require_binary, train_binary

    require_binary(prepared, task)
    with training_run(task, experiment, lineage, seed=seed, digest=digest, frame=frame, path=data,
                      label=prepared.label, exclude=[c for c, why in prepared.excluded.items() if why != "label"
                                                     and c not in prepared.sensitive.columns]) as logger:
        _feature_dictionary(logger)
        result = train_binary(prepared, task=task, lineage=lineage, frame=frame, data_path=data, digest=digest,
                              trials=trials, timeout=timeout, seed=seed, tracker=logger, positive=positive,
                              workers=workers)
        run_id = logger.run_id
    summary = "\n".join([*result["summary"], f"MLflow run {run_id} (experiment {logger.experiment_name})"])
    return {"run_id": run_id, "metrics": result["metrics"], "summary": summary}
