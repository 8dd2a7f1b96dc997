"""The logged uplift model (an MLflow pyfunc) and what MLflow needs to log it."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from experiments.encoding import TableEncoder

__all__ = ["UpliftModel", "plain_columns"]


# MLflow warns at class creation that predict has no type hints; the signature is explicit instead.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)

    class UpliftModel(PythonModel):
        """The logged model: clean table in, predicted uplift out (an MLflow pyfunc ``PythonModel``)."""

        def __init__(self, encoder: TableEncoder, learner) -> None:
            super().__init__()
            self.encoder = encoder
            self.learner = learner

        def predict_uplift(self, frame: pd.DataFrame) -> np.ndarray:
            return np.asarray(self.learner.predict(self.encoder.transform(frame).to_numpy()), dtype=float)

        def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
            """Predicted uplift (incremental response probability) per row."""
            return self.predict_uplift(pd.DataFrame(model_input))


def _signature(frame: pd.DataFrame, encoder: TableEncoder):
    """Input: the clean-table columns the encoder reads (no id); output: one uplift per row."""
    from experiments.signature import score_signature

    return score_signature(frame, list(encoder.input_columns))


def plain_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with category and text columns as plain Python strings (missing → None), the
    form MLflow's ``string`` schema type accepts (it refuses pandas ``category``)."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(s.dtype) \
                or pd.api.types.is_object_dtype(s.dtype):
            out[col] = s.astype("object").where(s.notna(), None).map(lambda v: v if v is None else str(v))
    return out
