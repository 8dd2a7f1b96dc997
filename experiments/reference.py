"""The training reference a monitor compares a new snapshot with, and the names of model outputs.

At the end of every training run (:func:`experiments.runs.training_run`) :func:`log_reference`
scores the training table with the model the run just logged and stores
``monitoring/reference.json``: for each input column of the model's signature and for each model
output, its distribution as **aggregates only** (bins and shares, never a row):

- numeric columns with more than :data:`MAX_DISCRETE` distinct values: up to :data:`N_BINS`
  quantile bins (inner edges rounded to 6 significant digits) and their shares;
- numeric columns with few distinct values (flags, counts) and text/category columns: the share
  of each value; values held by fewer than :data:`MIN_CELL` training rows are pooled into
  ``other`` and not named;
- the share of missing values, always.

:func:`distribution` maps any later column onto the same bins, :func:`psi` compares two share
vectors. The same module names the outputs of each task (:func:`output_frame`), so scoring and
monitoring call a churn score ``churn_probability`` alike.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FORMAT", "MISSING", "OTHER", "REFERENCE_ARTIFACT", "build_reference", "distribution",
           "log_reference", "output_frame", "predict", "psi"]

FORMAT = "kequn.monitor.reference/1"
REFERENCE_ARTIFACT = "monitoring/reference.json"
N_BINS = 10
MAX_DISCRETE = 10
#: fewest training rows a named category (or a bin) may describe
MIN_CELL = 5
OTHER, MISSING = "other", "missing"
#: floor of a share inside the PSI's logarithm (an empty bin on one side)
PSI_EPSILON = 1e-4
#: output column(s) of each task's model
OUTPUT_COLUMNS = {"churn": ("churn_probability",), "propensity": ("propensity_probability",),
                  "uplift": ("uplift",), "segment": ("segment", "persona", "value_tier")}


def output_frame(task: str, prediction: Any) -> pd.DataFrame:
    """The pyfunc ``prediction`` of a ``task`` model as named columns (see :data:`OUTPUT_COLUMNS`).

    A model of an unknown task that returns one number per row gives ``score``.
    """
    if isinstance(prediction, pd.DataFrame):
        out = prediction.reset_index(drop=True).copy()
        if task == "segment":
            out["segment"] = pd.to_numeric(out["segment"]).astype("int64")
            for col in ("persona", "value_tier"):
                out[col] = out[col].astype(str)
        return out
    values = np.asarray(prediction)
    if values.ndim == 2 and values.shape[1] == 2:  # a predict_proba model: the positive class
        values = values[:, 1]
    name = OUTPUT_COLUMNS.get(task, ("score",))[0] if task != "segment" else "score"
    return pd.DataFrame({name: values.astype("float64").reshape(-1)})


def predict(pyfunc: Any, X: pd.DataFrame) -> Any:
    """``pyfunc``'s prediction for ``X`` (columns already checked against its signature).

    kequn's own models (``experiments.*`` PythonModels, which restore their own dtypes) are
    called directly: MLflow's schema enforcement inspects every text value in Python (about 10 s
    per million rows). Any other pyfunc goes through ``pyfunc.predict`` and MLflow's enforcement.
    """
    from mlflow.exceptions import MlflowException

    try:
        python_model = pyfunc.unwrap_python_model()
    except (MlflowException, AttributeError):
        python_model = None
    if python_model is not None and type(python_model).__module__.startswith("experiments."):
        return python_model.predict(None, X)
    return pyfunc.predict(X)


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series.dtype) and not isinstance(series.dtype, pd.CategoricalDtype)


def bin_spec(series: pd.Series) -> dict[str, Any]:
    """The bins of one training column (see the module docstring)."""
    n = len(series)
    present = series.dropna()
    if _is_numeric(series) and not pd.api.types.is_bool_dtype(series.dtype):
        values = present.astype("float64")
        distinct = np.unique(values.to_numpy())
        if len(distinct) > MAX_DISCRETE:
            n_bins = max(2, min(N_BINS, len(values) // MIN_CELL))
            qs = np.quantile(values.to_numpy(), np.linspace(0, 1, n_bins + 1)[1:-1])
            edges = sorted({_round(q) for q in qs})
            spec: dict[str, Any] = {"kind": "numeric", "edges": edges}
            spec["shares"] = distribution(series, spec)
            return spec
        kept = [float(v) for v in distinct if (values == v).sum() >= MIN_CELL]
        spec = {"kind": "discrete", "values": kept}
    else:
        counts = present.astype(str).value_counts()
        spec = {"kind": "categorical", "values": sorted(str(v) for v, c in counts.items() if c >= MIN_CELL)}
    spec["shares"] = distribution(series, spec) if n else []
    return spec


def bin_labels(spec: dict[str, Any]) -> list[str]:
    """Readable names of the bins of ``spec`` (the last two are ``other`` (if any) and ``missing``)."""
    if spec["kind"] == "numeric":
        edges = spec["edges"]
        bounds = ["-inf", *(format(e, "g") for e in edges), "inf"]
        return [f"({bounds[i]}, {bounds[i + 1]}]" for i in range(len(edges) + 1)] + [MISSING]
    return [format(v, "g") if isinstance(v, float) else str(v) for v in spec["values"]] + [OTHER, MISSING]


def distribution(series: pd.Series, spec: dict[str, Any]) -> list[float]:
    """Shares of ``series`` in the bins of ``spec`` (aligned with :func:`bin_labels`; sum 1)."""
    n = len(series)
    if n == 0:
        return [0.0] * len(bin_labels(spec))
    missing = series.isna().to_numpy()
    if spec["kind"] == "numeric":
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        missing = missing | np.isnan(values)
        idx = np.searchsorted(np.asarray(spec["edges"], dtype="float64"), values[~missing], side="left")
        counts = np.bincount(idx, minlength=len(spec["edges"]) + 1).astype("float64")
    else:
        if spec["kind"] == "discrete":
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)[~missing]
            known = np.asarray(spec["values"], dtype="float64")
        else:
            values = series[~missing].astype(str).to_numpy()
            known = np.asarray(spec["values"], dtype=object)
        codes = pd.Index(known).get_indexer(values) if len(known) else np.full(len(values), -1)
        counts = np.bincount(np.where(codes < 0, len(known), codes), minlength=len(known) + 1).astype("float64")
    counts = np.append(counts, float(missing.sum()))
    return [float(c) for c in counts / n]


def psi(expected: list[float], actual: list[float]) -> float:
    """Population stability index of two share vectors over the same bins.

    ``sum((a - e) * ln(a / e))``, shares floored at :data:`PSI_EPSILON`; bins empty on both sides
    add nothing. Rule of thumb: < 0.1 stable, 0.1–0.25 a shift to look at, > 0.25 a drift.
    """
    e = np.asarray(expected, dtype="float64")
    a = np.asarray(actual, dtype="float64")
    used = (e > 0) | (a > 0)
    e, a = np.maximum(e[used], PSI_EPSILON), np.maximum(a[used], PSI_EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def build_reference(frame: pd.DataFrame, model: Any, *, task: str, run_id: str, digest: str) -> dict[str, Any]:
    """The reference of a training table ``frame`` and the pyfunc ``model`` trained on it."""
    schema = model.metadata.get_input_schema()
    inputs = [c.name for c in schema.inputs] if schema is not None else []
    columns = [c for c in inputs if c in frame.columns]
    outputs = output_frame(task, predict(model, frame[columns]))
    reference = {
        "format": FORMAT, "task": task, "run_id": run_id, "table_digest": digest, "n_rows": int(len(frame)),
        "features": {c: bin_spec(frame[c]) for c in columns},
        "outputs": {c: bin_spec(outputs[c]) for c in outputs.columns},
        "output_means": {c: float(outputs[c].mean()) for c in outputs.columns if _is_numeric(outputs[c])
                         and c != "segment"},
    }
    return reference


def log_reference(run_id: str, frame: pd.DataFrame, *, task: str, digest: str) -> bool:
    """Score the training table with the run's logged ``model`` and log :data:`REFERENCE_ARTIFACT`.

    Returns False (and logs nothing) when the run logged no model.
    """
    import tempfile
    from pathlib import Path

    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    try:
        from experiments.packaging import load_pyfunc

        model = load_pyfunc(f"runs:/{run_id}/model")
    except (MlflowException, OSError):
        return False
    reference = build_reference(frame, model, task=task, run_id=run_id, digest=digest)
    with tempfile.TemporaryDirectory(prefix="kequn-reference-") as tmp:
        path = Path(tmp) / Path(REFERENCE_ARTIFACT).name
        path.write_text(json.dumps(_finite(reference), ensure_ascii=False, indent=1), encoding="utf-8")
        client.log_artifact(run_id, str(path), str(Path(REFERENCE_ARTIFACT).parent))
    return True


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
