"""MLflow model signatures for kequn's pyfunc models (one place for the schema rules).

Numbers are declared as in training (``boolean``, ``long``, ``double``); text and categorical
columns are declared ``Any``: MLflow's ``string`` type refuses pandas ``category`` columns,
which is how a feature table read with ``pd.read_parquet`` delivers them, and the models
restore their own category dtypes anyway. Schemas are built from dtypes, never from a data value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def input_schema(frame: pd.DataFrame, columns: list[str], optional: tuple[str, ...] = ()):
    """An explicit MLflow input schema for ``columns`` of ``frame`` mirroring their dtypes."""
    from mlflow.types import ColSpec, Schema
    from mlflow.types.schema import AnyType

    specs = []
    for col in columns:
        dtype = frame[col].dtype
        if pd.api.types.is_bool_dtype(dtype):
            kind = "boolean"
        elif pd.api.types.is_integer_dtype(dtype):
            kind = "long"
        elif pd.api.types.is_numeric_dtype(dtype):
            kind = "double"
        else:
            kind = AnyType()
        specs.append(ColSpec(kind, col, required=col not in optional))
    return Schema(specs)


def score_signature(frame: pd.DataFrame, columns: list[str], optional: tuple[str, ...] = ()):
    """Signature of a model that returns one float per input row."""
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    return ModelSignature(inputs=input_schema(frame, columns, optional),
                          outputs=Schema([TensorSpec(np.dtype("float64"), (-1,))]))
