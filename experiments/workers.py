"""Parallel tuning: ``kequn train --workers N`` runs N processes on one shared Optuna study.

The parent process creates the study (and enqueues the default first trial), starts N worker
processes and waits. Each worker opens the same study with its own sampler seed (``seed + i``:
identically seeded samplers would propose identical trials) and runs its share of ``--trials``
(the total is split, not multiplied), with XGBoost on ``cores // N`` threads so N workers do not
oversubscribe the machine (OpenMP threads wait passively, :mod:`kequn.threads`). The folds and
XGBoost's seed stay ``seed`` everywhere, so every trial's score is comparable.

While the workers run, the parent logs every finished trial of *its* workers (user attribute
``kequn.pool``) as a nested run of the parent MLflow run, tagged with the worker
(``kequn.worker``); the best trial of the study then trains the final model, as in one process.

Storage
-------
* ``KEQUN_OPTUNA_STORAGE`` unset: Optuna's journal storage in a temporary file on this host
  (removed afterwards).
* ``KEQUN_OPTUNA_STORAGE`` an RDB URL (``postgresql://user@db-host/optuna``): the study lives in
  that database, so ``kequn train --workers N`` on several hosts adds trials to one study; each
  host's run logs its own workers' trials and reports the best trial of the whole study.
  The URL is read from the environment, never a command-line argument (a password in ``argv``
  shows in ``ps``), and never logged: the run records only its scheme.

Which trial wins does depend on timing (workers see each other's finished trials), so a run with
workers is not bit-for-bit reproducible; the logged ``best_*`` parameters are always those of the
study's best trial.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd

from experiments.tuning import (
    DEFAULT_TRIAL,
    STORAGE_ENV,
    TuningResult,
    _create_study,
    xgboost_objective,
)
from kequn.errors import TrainingError

__all__ = ["MAX_WORKERS", "POOL_ATTR", "WORKER_ATTR", "split_trials", "threads_per_worker", "tune_parallel"]

POOL_ATTR = "kequn.pool"
WORKER_ATTR = "kequn.worker"
MAX_WORKERS = 64
POLL_SECONDS = 0.5
#: a worker's sampler seed is ``seed + SEED_STRIDE * i`` (the parent's sampler, unused, is ``seed``)
SEED_STRIDE = 1


def available_cores() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not Linux
        return max(os.cpu_count() or 1, 1)


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """XGBoost/OpenMP threads for each of ``workers`` processes: the cores shared out, at least 1."""
    return max((cores or available_cores()) // max(workers, 1), 1)


def split_trials(trials: int, workers: int) -> list[int]:
    """``trials`` shared out over ``workers`` (the first ones take the remainder); no zero shares."""
    workers = min(workers, trials)
    return [trials // workers + (1 if i < trials % workers else 0) for i in range(workers)]


def storage_kind(url: str | None) -> str:
    """What the run records about the storage: ``journal`` or the URL's scheme, never the URL."""
    if not url:
        return "journal"
    return url.split("://", 1)[0].split("+", 1)[0] if "://" in url else "invalid"


def _journal(path: str) -> Any:
    from optuna.storages.journal import JournalFileBackend, JournalStorage  # Optuna >= 4.0

    return JournalStorage(JournalFileBackend(path))


def _open(storage: dict[str, str]) -> Any:
    """The Optuna storage described by ``storage`` (``{"journal": path}`` or ``{"url": url}``)."""
    return _journal(storage["journal"]) if "journal" in storage else storage["url"]


def _worker(index: int, storage: dict[str, str], name: str, pool: str, X: pd.DataFrame, y: pd.Series,
            seed: int, n_folds: int, total_trials: int, trials: int, timeout: float | None, nthread: int,
            results: Any) -> None:
    """One worker process: its share of the trials on the shared study; reports to ``results``."""
    os.environ["OMP_NUM_THREADS"] = str(nthread)
    import kequn.threads  # noqa: F401  (passive OpenMP waiting)

    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = _create_study(optuna, name, _open(storage), seed + SEED_STRIDE * index, total_trials)
        objective = xgboost_objective(X, y, seed=seed, n_folds=n_folds, nthread=nthread)

        def tagged(trial: Any) -> float:
            trial.set_user_attr(POOL_ATTR, pool)
            trial.set_user_attr(WORKER_ATTR, index)
            return objective(trial)

        study.optimize(tagged, n_trials=trials, timeout=timeout, gc_after_trial=False, show_progress_bar=False)
        results.put((index, "ok", ""))
    except BaseException as exc:  # reported to the parent by type (messages may quote a URL)
        results.put((index, "error", type(exc).__name__))


@contextlib.contextmanager
def _storage() -> Iterator[dict[str, str]]:
    url = os.environ.get(STORAGE_ENV, "").strip()
    if url:
        yield {"url": url}
        return
    directory = tempfile.mkdtemp(prefix="kequn-optuna-")
    try:
        yield {"journal": os.path.join(directory, "study.journal")}
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def tune_parallel(X: pd.DataFrame, y: pd.Series, *, seed: int, trials: int, timeout: float | None,
                  n_folds: int, name: str, workers: int, key: dict[str, str] | None = None,
                  on_trial: Callable[[Any, Any], None] | None = None) -> TuningResult:
    """:func:`experiments.tuning.tune_xgboost` with ``workers`` processes on one study.

    ``trials`` is the total over all workers; ``timeout`` bounds each worker. ``on_trial`` is
    called in this process, once per finished trial of this pool, as the trials finish. ``key``
    (:func:`experiments.tuning.study_key`) is claimed on the study before any worker starts, so a
    pool never joins a study of another task or table.
    """
    import multiprocessing

    import optuna

    if not 1 <= workers <= MAX_WORKERS:
        raise TrainingError(f"--workers must be between 1 and {MAX_WORKERS}. Got {workers}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    shares = split_trials(trials, workers)
    nthread = threads_per_worker(len(shares))
    pool = uuid.uuid4().hex
    with _storage() as storage:
        try:
            study = _create_study(optuna, name, _open(storage), seed, trials)
        except Exception as exc:  # a bad URL or an unreachable database
            raise TrainingError(f"{STORAGE_ENV}: cannot open the Optuna study storage ({type(exc).__name__}); "
                                "check the database URL") from exc
        if key is not None:
            from experiments.tuning import claim_study

            claim_study(study, key)
        if not study.trials:
            study.enqueue_trial(DEFAULT_TRIAL)
        ctx = multiprocessing.get_context("spawn")  # fork would copy this process's MLflow/OpenMP state
        results = ctx.Queue()
        procs = [ctx.Process(target=_worker, name=f"kequn-tuning-{i}", daemon=True,
                             args=(i, storage, name, pool, X, y, seed, n_folds, trials, share, timeout,
                                   nthread, results))
                 for i, share in enumerate(shares)]
        reported: dict[int, tuple[str, str]] = {}
        logged: set[int] = set()
        try:
            for proc in procs:
                proc.start()
            while True:
                alive = any(p.is_alive() for p in procs)
                _log_finished(study, pool, logged, on_trial)
                with contextlib.suppress(queue.Empty):
                    while True:
                        index, status, detail = results.get_nowait()
                        reported[index] = (status, detail)
                if not alive:
                    break
                time.sleep(POLL_SECONDS)
            for proc in procs:
                proc.join(timeout=30)
            with contextlib.suppress(queue.Empty):
                while len(reported) < len(procs):
                    index, status, detail = results.get(timeout=2)
                    reported[index] = (status, detail)
            _log_finished(study, pool, logged, on_trial)
        finally:
            for proc in procs:
                if proc.is_alive():
                    proc.terminate()
                    proc.join(timeout=10)
        failed = sorted(i for i in range(len(procs)) if reported.get(i, ("lost", ""))[0] != "ok")
        if failed:
            why = ", ".join(f"worker {i}: {reported[i][1] if i in reported else 'exited'} "
                            f"(exit code {procs[i].exitcode})" for i in failed)
            raise TrainingError(f"parallel tuning failed ({why}); nothing was trained")
        if "journal" in storage:  # the journal file goes with the temporary directory: keep the trials
            kept = optuna.create_study(study_name=name, direction="maximize")
            kept.add_trials(study.get_trials(deepcopy=False))
            study = kept
        return _result(optuna, study)


def _log_finished(study: Any, pool: str, logged: set[int], on_trial: Callable[[Any, Any], None] | None) -> None:
    """Hand each newly finished trial of this pool to ``on_trial`` (in trial-number order)."""
    if on_trial is None:
        return
    import optuna

    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
    for trial in study.get_trials(deepcopy=False, states=finished):
        if trial.number not in logged and trial.user_attrs.get(POOL_ATTR) == pool:
            logged.add(trial.number)
            on_trial(study, trial)


def _result(optuna: Any, study: Any) -> TuningResult:
    trials = study.trials
    if not any(t.state == optuna.trial.TrialState.COMPLETE for t in trials):
        raise TrainingError("no Optuna trial completed; raise --timeout or --trials")
    best = study.best_trial
    return TuningResult(
        study=study, best_params=dict(best.params), best_score=float(best.value),
        n_estimators=int(best.user_attrs.get("n_estimators", 100)), n_trials=len(trials),
        n_pruned=sum(t.state == optuna.trial.TrialState.PRUNED for t in trials),
    )
