"""The plan's use of governed models: loading is :func:`pipelines.scoring.load_verified_model`.

There is one loader of a registered model (``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``,
verified on the very files it loads; an unapproved, unverifiable or unknown version is refused,
and nothing else proves that a second person approved the model). This module adds what the
plan needs on top: a task check per option (``--uplift`` must be an uplift model) before
anything is downloaded, a prediction on the columns the signature names, and the per-row
output as a vector.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kequn.errors import InputError
from pipelines.scoring import LoadedModel, load_verified_model, parse_model_uri

__all__ = ["GovernedModel", "as_vector", "load_governed", "parse_model_uri", "predict"]

#: the loaded model type (kept as a name for the plan's callers)
GovernedModel = LoadedModel


def load_governed(uri: str, *, option: str = "--model", tasks: tuple[str, ...] | None = None) -> LoadedModel:
    """Verify and load ``uri``; see :func:`pipelines.scoring.load_verified_model`."""
    return load_verified_model(uri, option=option, tasks=tasks)


def required_columns(model: LoadedModel) -> list[str]:
    """The input columns the model's signature requires (optional ones left out)."""
    return [c.name for c in model.inputs if c.name and not getattr(c, "optional", False)]


def predict(model: LoadedModel, frame: pd.DataFrame, *, option: str = "--model") -> Any:
    """The model's prediction on the columns its signature names; missing columns named."""
    from mlflow.exceptions import MlflowException

    from experiments.reference import predict as reference_predict
    from experiments.uplift.model import plain_columns

    missing = [c for c in required_columns(model) if c not in frame.columns]
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise InputError(f"{option} {model.name} v{model.version}: the feature table lacks the model's "
                         f"input columns {shown}")
    names = [c.name for c in model.inputs if c.name in frame.columns] if model.inputs else list(frame.columns)
    X = frame[names]
    try:
        own = type(model.pyfunc.unwrap_python_model()).__module__.startswith("experiments.")
    except (MlflowException, AttributeError):
        own = False
    try:
        # kequn's own models restore their dtypes (called directly); others get MLflow's string form
        return reference_predict(model.pyfunc, X if own else plain_columns(X))
    except MlflowException as exc:
        first = str(getattr(exc, "message", exc)).strip().splitlines()[0][:300]
        raise InputError(f"{option} {model.name} v{model.version}: the feature table does not match the "
                         f"model's signature ({first})") from None


def as_vector(result: Any, n: int, *, what: str) -> np.ndarray:
    """A model's per-row numeric output as a float vector of length ``n``."""
    if isinstance(result, pd.DataFrame):
        result = result.iloc[:, -1] if result.shape[1] > 1 else result.iloc[:, 0]
    values = np.asarray(result, dtype="float64")
    if values.ndim == 2:
        values = values[:, -1]
    if values.shape != (n,):
        raise InputError(f"{what}: the model returned {values.shape} values for {n} rows")
    return values
