"""The logged segment model: a clean customer row in; segment, persona and value tier out."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel
from sklearn.pipeline import Pipeline

from experiments.segment.columns import (
    AGE_COLUMN,
    AGE_FEATURE,
    AUM_COLUMN,
    UNKNOWN,
    with_age_midpoint,
)
from experiments.segment.config import ValueTierRule
from features.config import assign_value_tier

__all__ = ["SegmentModel", "value_tiers"]


def value_tiers(frame: pd.DataFrame, tiers: list[ValueTierRule]) -> np.ndarray:
    """The value tier per row (:func:`features.config.assign_value_tier`, the one rule); a row
    without a tier (missing AUM, or no ``aum`` column) is :data:`UNKNOWN`."""
    if AUM_COLUMN not in frame.columns:
        return np.full(len(frame), UNKNOWN, dtype=object)
    return assign_value_tier(frame[AUM_COLUMN], tiers, missing=UNKNOWN)


with warnings.catch_warnings():
    # MLflow warns at class creation that predict has no type hints; the signature is explicit.
    warnings.simplefilter("ignore", UserWarning)

    class SegmentModel(PythonModel):
        """The logged model: a clean customer row in; ``segment``, ``persona``, ``value_tier`` out."""

        def __init__(self, encoder: Pipeline, kmeans, personas: dict[int, str],
                     tiers: list[ValueTierRule]) -> None:
            super().__init__()
            self.encoder = encoder
            self.kmeans = kmeans
            self.personas = personas
            self.tiers = tiers

        @property
        def feature_columns(self) -> list[str]:
            """The columns the encoder reads (``age_band_mid`` is derived from ``age_band``)."""
            return list(self.encoder[0].input_columns)

        def encode(self, frame: pd.DataFrame) -> np.ndarray:
            return self.encoder.transform(with_age_midpoint(frame, self.feature_columns))

        def assign(self, frame: pd.DataFrame) -> pd.DataFrame:
            segments = self.kmeans.predict(self.encode(frame)).astype(np.int64)
            persona = pd.Series(segments).map(self.personas).fillna(UNKNOWN).astype(str).to_numpy()
            tier = value_tiers(frame, self.tiers)
            return pd.DataFrame({"segment": segments, "persona": persona, "value_tier": tier.astype(str)})

        def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
            """Segment id, persona name and value tier per row."""
            return self.assign(pd.DataFrame(model_input))


def _signature(frame: pd.DataFrame, model: SegmentModel):
    """Input: the feature columns (and ``aum`` for the tier), typed as in training; no id."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    from experiments.signature import input_schema

    cols = [AGE_COLUMN if c == AGE_FEATURE else c for c in model.feature_columns]
    if AUM_COLUMN in frame.columns and AUM_COLUMN not in cols:
        cols.append(AUM_COLUMN)
    inputs = input_schema(frame, cols, optional=(AGE_COLUMN,))
    outputs = Schema([ColSpec("long", "segment"), ColSpec("string", "persona"), ColSpec("string", "value_tier")])
    return ModelSignature(inputs=inputs, outputs=outputs)
