"""The logged binary model: an MLflow pyfunc that scores a clean table.

:class:`BinaryScorer` holds the XGBoost booster and the :class:`~experiments.data.FeatureSpec`;
its ``predict`` selects the feature columns of whatever clean table it gets (ids and labels are
ignored), restores the category dtypes and returns the positive-class score. The signature
lists only feature columns (numbers as ``long``/``double``, categories as ``Any`` so that pandas
``category`` columns and plain strings are both accepted); the input example
is synthetic (column medians and most frequent categories), never a real row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from experiments.data import FeatureSpec

BOOSTER_FILE = "booster.ubj"
SPEC_FILE = "feature_spec.json"
SCORER_FILE = "scorer.json"
ARTIFACT_PATH = "model"


def undo_class_weight(p: np.ndarray, weight: float) -> np.ndarray:
    """Map scores of a model trained with positives weighted by ``weight`` back to probabilities.

    Weighting positives multiplies the fitted odds by ``weight``; dividing the odds by it
    restores calibrated scores. Monotonic, so ROC-AUC, PR-AUC, lift and rankings are unchanged.
    """
    p = np.clip(np.asarray(p, dtype="float64"), 1e-12, 1 - 1e-12)
    return p / (p + weight * (1.0 - p))


class BinaryScorer(PythonModel):
    """pyfunc model: clean table in, positive-class score (float) out."""

    def load_context(self, context: Any) -> None:
        import xgboost as xgb

        self.booster = xgb.Booster()
        self.booster.load_model(context.artifacts["booster"])
        self.booster.set_param({"nthread": 2})
        self.spec = FeatureSpec.from_dict(json.loads(Path(context.artifacts["spec"]).read_text(encoding="utf-8")))
        scorer = json.loads(Path(context.artifacts["scorer"]).read_text(encoding="utf-8"))
        self.class_weight = float(scorer["positive_class_weight"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        return score(self.booster, self.spec, model_input, self.class_weight)


def score(booster: Any, spec: FeatureSpec, frame: pd.DataFrame, class_weight: float = 1.0) -> np.ndarray:
    """Calibrated positive-class scores of ``frame`` (any clean table holding the feature columns)."""
    import xgboost as xgb

    X = spec.transform(pd.DataFrame(frame))
    raw = booster.predict(xgb.DMatrix(X, enable_categorical=True, nthread=2))
    return undo_class_weight(raw, class_weight)


def signature_frame(spec: FeatureSpec, X: pd.DataFrame, source: pd.DataFrame | None = None) -> pd.DataFrame:
    """A one-row synthetic frame with the model's input schema: medians and most frequent
    categories (aggregates, not a row of the table).

    Numeric columns keep the clean table's kind (``source`` dtypes): integer columns are
    declared ``long`` and others ``double``, so that scoring a clean table passes MLflow's
    schema enforcement (which refuses int64 → float64).
    """
    row: dict[str, Any] = {}
    for col in spec.features:
        if col in spec.categories:
            counts = X[col].value_counts()
            value: Any = str(counts.index[0]) if len(counts) else (spec.categories[col] or [""])[0]
            row[col] = pd.Series([value], dtype=object)
            continue
        median = X[col].median()
        median = float(median) if pd.notna(median) else 0.0
        kind = source[col].dtype if source is not None and col in source.columns else np.dtype("float64")
        if pd.api.types.is_bool_dtype(kind):
            row[col] = pd.Series([bool(median >= 0.5)], dtype=bool)
        elif pd.api.types.is_integer_dtype(kind):
            row[col] = pd.Series([int(round(median))], dtype="int64")
        else:
            row[col] = pd.Series([median], dtype="float64")
    return pd.DataFrame(row)


def log_binary_model(booster: Any, spec: FeatureSpec, X_train: pd.DataFrame, workdir: Path,
                     source: pd.DataFrame | None = None, class_weight: float = 1.0) -> Any:
    """Log the pyfunc under artifact path ``model`` with a signature and a synthetic example."""
    import mlflow

    from experiments.packaging import model_env
    from experiments.signature import score_signature

    scorer = BinaryScorer()
    workdir.mkdir(parents=True, exist_ok=True)
    booster_path = workdir / BOOSTER_FILE
    spec_path = workdir / SPEC_FILE
    booster.save_model(str(booster_path))
    spec_path.write_text(json.dumps(spec.to_dict(), ensure_ascii=False), encoding="utf-8")
    scorer_path = workdir / SCORER_FILE
    scorer_path.write_text(json.dumps({"positive_class_weight": class_weight}), encoding="utf-8")
    example = signature_frame(spec, X_train, source)
    signature = score_signature(example, list(spec.features))
    return mlflow.pyfunc.log_model(
        name=ARTIFACT_PATH,
        python_model=scorer,
        artifacts={"booster": str(booster_path), "spec": str(spec_path), "scorer": str(scorer_path)},
        signature=signature,
        input_example=example,
        **model_env(scorer),  # our code ships with the model; requirements name no kequn
    )
