"""The logged binary model: an MLflow pyfunc that scores a clean table.

Two families can be shipped (``family`` in ``scorer.json``; :mod:`experiments.binary` ships the
one that wins cross-validation on the training part): ``xgboost`` (``booster.ubj``) and
``logistic`` (:class:`LogisticModel`, its whole fitted state in ``logistic.json``: medians,
scales, one-hot levels and coefficients, no pickle).

:class:`BinaryScorer` holds the fitted model and the :class:`~experiments.data.FeatureSpec`;
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
LOGISTIC_FILE = "logistic.json"
#: One-hot levels seen fewer times than this in the fitting rows share the all-zeros code.
MIN_LEVEL_COUNT = 5
MISSING_LEVEL = "__missing__"
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


class LogisticModel:
    """Logistic regression on the encoder's output, with a JSON-serialisable fitted state.

    Numbers: missing → the fitting rows' median, then standardised with their mean and standard
    deviation. Categories: one 0/1 column per level seen at least :data:`MIN_LEVEL_COUNT` times
    in the fitting rows (missing is a level of its own); rarer and unseen levels are all zeros.
    Positives are weighted ``class_weight="balanced"``; :func:`undo_class_weight` maps the
    scores back to probabilities, as for XGBoost.
    """

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    @classmethod
    def fit(cls, X: pd.DataFrame, y: pd.Series, *, seed: int) -> LogisticModel:
        from sklearn.linear_model import LogisticRegression

        numeric, levels = {}, {}
        for col in X.columns:
            if isinstance(X[col].dtype, pd.CategoricalDtype):
                counts = _as_levels(X[col]).value_counts()
                levels[col] = sorted(str(v) for v in counts.index[counts >= MIN_LEVEL_COUNT])
            else:
                values = X[col].astype("float64")
                median = float(values.median()) if values.notna().any() else 0.0
                filled = values.fillna(median)
                std = float(filled.std(ddof=0))
                numeric[col] = {"median": median, "mean": float(filled.mean()),
                                "scale": std if std > 0 else 1.0}
        model = cls({"numeric": numeric, "levels": levels, "coef": [], "intercept": 0.0})
        Z = model.design(X)
        lr = LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed).fit(Z, y.to_numpy())
        model.state["coef"] = [float(v) for v in lr.coef_[0]]
        model.state["intercept"] = float(lr.intercept_[0])
        return model

    @property
    def columns(self) -> list[str]:
        """Design-matrix column names (``col`` for numbers, ``col=level`` for categories)."""
        return [*self.state["numeric"], *(f"{c}={v}" for c, vs in self.state["levels"].items() for v in vs)]

    def design(self, X: pd.DataFrame) -> np.ndarray:
        """The standardised numeric and one-hot columns of ``X`` (the encoder's output)."""
        parts = []
        for col, p in self.state["numeric"].items():
            values = pd.to_numeric(X[col], errors="coerce").astype("float64").fillna(p["median"])
            parts.append(((values.to_numpy() - p["mean"]) / p["scale"])[:, None])
        for col, vs in self.state["levels"].items():
            text = _as_levels(X[col]).to_numpy()
            parts.append((text[:, None] == np.asarray(vs, dtype=object)[None, :]).astype("float64"))
        return np.hstack(parts) if parts else np.zeros((len(X), 0))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Class-weighted positive-class probability (undo the weight with :func:`undo_class_weight`)."""
        z = self.design(X) @ np.asarray(self.state["coef"], dtype="float64") + self.state["intercept"]
        return 1.0 / (1.0 + np.exp(-z))

    def importance(self) -> dict[str, float]:
        """|standardised coefficient| summed over each input feature's columns."""
        out: dict[str, float] = {}
        for name, c in zip(self.columns, self.state["coef"], strict=True):
            feature = name if name in self.state["numeric"] else name.split("=", 1)[0]
            out[feature] = out.get(feature, 0.0) + abs(c)
        return out

    def to_dict(self) -> dict[str, Any]:
        return dict(self.state)


def _as_levels(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), MISSING_LEVEL).astype(str)


class BinaryScorer(PythonModel):
    """pyfunc model: clean table in, positive-class score (float) out."""

    def load_context(self, context: Any) -> None:
        self.spec = FeatureSpec.from_dict(json.loads(Path(context.artifacts["spec"]).read_text(encoding="utf-8")))
        scorer = json.loads(Path(context.artifacts["scorer"]).read_text(encoding="utf-8"))
        self.class_weight = float(scorer["positive_class_weight"])
        if scorer.get("family", "xgboost") == "logistic":
            state = json.loads(Path(context.artifacts["logistic"]).read_text(encoding="utf-8"))
            self.booster: Any = LogisticModel(state)
            return
        import xgboost as xgb

        self.booster = xgb.Booster()
        self.booster.load_model(context.artifacts["booster"])
        self.booster.set_param({"nthread": 2})

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        return score(self.booster, self.spec, model_input, self.class_weight)


def score(booster: Any, spec: FeatureSpec, frame: pd.DataFrame, class_weight: float = 1.0) -> np.ndarray:
    """Calibrated positive-class scores of ``frame`` (any clean table holding the feature columns).

    ``booster`` is an XGBoost booster or a :class:`LogisticModel`.
    """
    X = spec.transform(pd.DataFrame(frame))
    return undo_class_weight(raw_scores(booster, X), class_weight)


def raw_scores(model: Any, X: pd.DataFrame) -> np.ndarray:
    """Class-weighted scores of an encoded frame by either family."""
    if isinstance(model, LogisticModel):
        return model.predict(X)
    import xgboost as xgb

    return model.predict(xgb.DMatrix(X, enable_categorical=True, nthread=2))


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
    """Log the pyfunc under artifact path ``model`` with a signature and a synthetic example.

    ``booster`` is the shipped model: an XGBoost booster or a :class:`LogisticModel`.
    """
    import mlflow

    from experiments.packaging import model_env
    from experiments.signature import score_signature

    scorer = BinaryScorer()
    workdir.mkdir(parents=True, exist_ok=True)
    spec_path = workdir / SPEC_FILE
    spec_path.write_text(json.dumps(spec.to_dict(), ensure_ascii=False), encoding="utf-8")
    artifacts = {"spec": str(spec_path)}
    if isinstance(booster, LogisticModel):
        family = "logistic"
        artifacts["logistic"] = str(workdir / LOGISTIC_FILE)
        (workdir / LOGISTIC_FILE).write_text(json.dumps(booster.to_dict(), ensure_ascii=False), encoding="utf-8")
    else:
        family = "xgboost"
        artifacts["booster"] = str(workdir / BOOSTER_FILE)
        booster.save_model(artifacts["booster"])
    scorer_path = workdir / SCORER_FILE
    scorer_path.write_text(json.dumps({"positive_class_weight": class_weight, "family": family}),
                           encoding="utf-8")
    artifacts["scorer"] = str(scorer_path)
    example = signature_frame(spec, X_train, source)
    signature = score_signature(example, list(spec.features))
    return mlflow.pyfunc.log_model(
        name=ARTIFACT_PATH,
        python_model=scorer,
        artifacts=artifacts,
        signature=signature,
        input_example=example,
        **model_env(scorer),  # our code ships with the model; requirements name no kequn
    )
