"""Training data: the privacy firewall, label handling and feature selection for every task.

This module is shared by all training tasks (``churn``, ``propensity``, ``segment``,
``uplift``). Its public API is stable:

- :func:`load_training_table` reads a pseudonymised table through the privacy firewall
  (:func:`kequn.lineage.require_clean_table`) and returns it with its :class:`Lineage`.
- :func:`prepare` turns the table into a :class:`Prepared` bundle: the feature matrix ``X``
  (never identifiers, tokens or other labels), the 0/1 target ``y``, the ids, the treatment,
  the protected attributes for fairness measurement, and the fitted
  :class:`~experiments.encoding.TableEncoder` (``spec``; :data:`FeatureSpec` is its binary-task
  name) that re-applies the same column selection and category dtypes to any new clean table
  (``spec.transform``; the logged binary model ships it as ``feature_spec.json``).
- :func:`binary_values` is the one parser of 0/1 columns (labels of every task, the treatment).

Rules for feature selection (each exclusion is reported with its reason in
:attr:`Prepared.excluded`):

- the id column (``--id``, else ``customer_no``, else the first column holding ``tk_`` tokens);
- identifier-like columns: names ending in ``_no`` or ``_id`` (or ``id``), columns whose text
  values are ``tk_`` tokens, and text columns with very many distinct values (free text, ids);
- label columns of any task (:data:`LABEL_COLUMNS`), the treatment column;
- protected attributes (:data:`DEFAULT_PROTECTED` when present, plus ``--protected``): measured
  for fairness, not used as features (fairness through unawareness; documented choice);
- date and time columns (use derived features such as tenure instead).

Text, boolean-like and low-cardinality columns become pandas ``category`` columns, which
XGBoost uses natively (``enable_categorical=True``); the logistic baseline one-hot encodes them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.encoding import TOKEN_PREFIX, FeatureSpec, TableEncoder
from features.registry import LABEL_COLUMNS as FEATURE_LABEL_COLUMNS
from kequn.errors import TrainingError
from kequn.lineage import Lineage, require_clean_table

__all__ = ["DEFAULT_LABELS", "LABEL_COLUMNS", "FeatureSpec", "Prepared", "binary_values", "detect_id_column",
           "fit_on_training_part", "load_training_table", "prepare", "table_digest"]

#: Default label column per task.
DEFAULT_LABELS = {"churn": "churn_label", "propensity": "propensity_label", "uplift": "response",
                  "segment": None}
#: Columns of the synthetic bank's planted truth (``ground_truth/customers_truth`` of
#: ``kequn synth``) and the assignment a segment model writes: should one reach a training
#: table, it is an answer key, never a feature.
TRUTH_COLUMNS = ("churned", "uplift_group", "treatment_effect", "churn_prob", "segment")
#: Columns that are labels or assignments of some task: never features of any task. The labels
#: are the feature registry's (:data:`features.registry.LABEL_COLUMNS`, the one definition),
#: plus :data:`TRUTH_COLUMNS`.
LABEL_COLUMNS = (*FEATURE_LABEL_COLUMNS, *TRUTH_COLUMNS)
#: Protected attributes measured for fairness by default (when the table has them).
DEFAULT_PROTECTED = ("gender", "age_band")
DEFAULT_ID = "customer_no"
#: A text column with more distinct values than this share of its non-missing rows (and more
#: than :data:`MAX_CATEGORIES_ALWAYS_OK`) is treated as an identifier or free text.
ID_LIKE_UNIQUE_SHARE = 0.5
MAX_CATEGORIES_ALWAYS_OK = 50
#: Number of cross-validation folds; a table needs at least this many rows per class (+1 for test).
CV_FOLDS = 3
#: Recognised spellings of a binary label, positive value first.
BINARY_SPELLINGS = ({"1", "0"}, {"true", "false"}, {"yes", "no"}, {"y", "n"}, {"是", "否"})
POSITIVE_SPELLINGS = {"1", "true", "yes", "y", "是"}


@dataclass
class Prepared:
    """A training table split into features, target and the columns that are not features.

    Attributes
    ----------
    X:
        Features only (float64 and ``category`` columns), index aligned with the other parts.
    y:
        0/1 target (``None`` for ``segment``).
    ids:
        The id column (tokens) or ``None``; never a feature.
    treatment:
        0/1 treatment for uplift, else ``None``.
    sensitive:
        Protected attributes (text) for fairness measurement; may be empty.
    spec:
        The fitted :class:`~experiments.encoding.TableEncoder` (native categories) that
        rebuilds ``X`` from a clean table.
    label, positive, id_col, treatment_col:
        The resolved column names and positive value.
    excluded:
        ``{column: reason}`` for every column that is not a feature.
    dropped_rows:
        Rows dropped because their label (or treatment) was missing.
    """

    X: pd.DataFrame
    y: pd.Series | None
    ids: pd.Series | None
    treatment: pd.Series | None
    sensitive: pd.DataFrame
    spec: TableEncoder
    label: str | None
    positive: str | None
    id_col: str | None
    treatment_col: str | None
    excluded: dict[str, str] = field(default_factory=dict)
    dropped_rows: int = 0

    @property
    def feature_names(self) -> list[str]:
        return list(self.spec.features)

    @property
    def categorical(self) -> list[str]:
        return self.spec.categorical

    def summary_lines(self) -> list[str]:
        """Readable lines on what was used and excluded (column names and counts only)."""
        lines = [f"features: {len(self.spec.features)} ({len(self.categorical)} categorical); "
                 f"rows: {len(self.X)}"]
        if self.y is not None:
            lines.append(f"label: {self.label} (positive share {float(self.y.mean()):.1%})")
        if self.dropped_rows:
            lines.append(f"dropped {self.dropped_rows} row(s) with a missing label")
        by_reason: dict[str, list[str]] = {}
        for col, reason in self.excluded.items():
            by_reason.setdefault(reason, []).append(col)
        for reason, cols in by_reason.items():
            lines.append(f"excluded ({reason}): {', '.join(cols)}")
        return lines


def load_training_table(path: str | Path) -> tuple[pd.DataFrame, Lineage]:
    """Read a pseudonymised table after checking its lineage (the privacy firewall).

    Raises
    ------
    LineageError
        Raw data or a table without a passing manifest, with a one-line fix.
    TrainingError
        The table is empty.
    """
    from kequn.io import read_table

    lineage = require_clean_table(path)
    frame = read_table(path)
    if frame.empty:
        raise TrainingError(f"{path}: the table has no rows")
    return frame, lineage


def table_digest(frame: pd.DataFrame) -> str:
    """A short, stable SHA-256 digest of a table's content (not reversible to values)."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    return digest.hexdigest()[:16]


def _is_text(series: pd.Series) -> bool:
    return (pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series)
            or isinstance(series.dtype, pd.CategoricalDtype))


def _token_share(series: pd.Series) -> float:
    values = series.dropna()
    if values.empty:
        return 0.0
    return float(values.astype("string").str.startswith(TOKEN_PREFIX).mean())


def detect_id_column(frame: pd.DataFrame, id_col: str | None = None) -> str | None:
    """The id column: ``id_col`` if given, else ``customer_no``, else the first token column."""
    if id_col is not None:
        if id_col not in frame.columns:
            raise TrainingError(f"--id: the table has no column {id_col!r}")
        return id_col
    if DEFAULT_ID in frame.columns:
        return DEFAULT_ID
    for col in frame.columns:
        if _is_text(frame[col]) and _token_share(frame[col]) > 0.5:
            return str(col)
    return None


def _identifier_reason(name: str, series: pd.Series) -> str | None:
    lower = name.lower()
    if lower == "id" or lower.endswith("_no") or lower.endswith("_id"):
        return "identifier name"
    if not _is_text(series):
        return None
    if _token_share(series) > 0.0:
        return "pseudonym tokens"
    n = int(series.notna().sum())
    unique = int(series.nunique(dropna=True))
    if unique > MAX_CATEGORIES_ALWAYS_OK and unique > ID_LIKE_UNIQUE_SHARE * n:
        return "identifier-like or free text (too many distinct values)"
    return None


def binary_values(values: pd.Series, *, column: str, positive: str | None = None,
                  what: str = "label") -> tuple[pd.Series, str]:
    """Map a binary column to 0/1 (``int8``, index kept) and name its positive value.

    The one label parser of every task: the label of churn/propensity/uplift (``what="label"``)
    and the uplift treatment (``what="treatment"``, which takes no ``positive``). Without
    ``positive`` the column must be 0/1, true/false, yes/no, y/n or 是/否; with it, rows equal to
    ``positive`` (compared as a number for numeric columns) are the positives.

    Raises
    ------
    TrainingError
        Missing values, ``positive`` never occurring, or a column that is not binary (one line
        naming the column, never a value).
    """
    if values.isna().any():
        raise TrainingError(f"{what} column {column!r} has {int(values.isna().sum())} missing values; "
                            "fill or drop them first")
    distinct = pd.unique(values)
    if positive is not None:
        text = values.astype("string")
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            try:
                pos = float(positive) if not pd.api.types.is_bool_dtype(values) else positive.lower() in POSITIVE_SPELLINGS
                hit = values == pos
            except ValueError:
                hit = text == positive
        else:
            hit = text == positive
        if not hit.any():
            raise TrainingError(f"--positive: no row of {what} {column!r} has the value {positive!r}")
        return hit.astype("int8"), positive
    if len(distinct) > 2:
        if what != "label":
            raise TrainingError(f"{what} column {column!r} is not binary 0/1 (it has {len(distinct)} distinct "
                                "values); recode it to 0/1")
        raise TrainingError(f"label {column!r} has {len(distinct)} distinct values; "
                            f"pass --positive VALUE to say which one counts as positive")
    text = values.astype("string").str.strip().str.lower()
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        text = pd.Series(np.where(values.astype("float64") == 1.0, "1",
                                  np.where(values.astype("float64") == 0.0, "0", "?")), index=values.index)
    seen = set(text.unique())
    for spelling in BINARY_SPELLINGS:
        if seen <= spelling:
            pos = next(iter(spelling & POSITIVE_SPELLINGS))
            return (text == pos).astype("int8"), pos
    if what != "label":
        raise TrainingError(f"{what} column {column!r} is not binary 0/1; recode it to 0/1")
    raise TrainingError(f"label {column!r} is not 0/1, true/false or yes/no; "
                        f"pass --positive VALUE to say which value counts as positive")


def prepare(frame: pd.DataFrame, *, task: str, label: str | None = None, positive: str | None = None,
            id_col: str | None = None, treatment: str | None = None,
            protected: list[str] | tuple[str, ...] = ()) -> Prepared:
    """Split a clean table into features, 0/1 target, ids, treatment and protected attributes.

    Parameters
    ----------
    frame:
        A table from :func:`load_training_table`.
    task:
        ``churn``, ``propensity``, ``uplift`` or ``segment`` (no label).
    label, positive:
        Label column (default per task, :data:`DEFAULT_LABELS`) and the value that counts as
        positive (needed when the label is not 0/1, true/false or yes/no).
    id_col:
        Id column; detected when ``None`` (:func:`detect_id_column`).
    treatment:
        Treatment column (0/1); used, and required, for ``uplift`` (default ``treatment``).
    protected:
        Extra protected attributes; :data:`DEFAULT_PROTECTED` are added when present.

    Raises
    ------
    TrainingError
        Missing label/treatment/protected column, single-class label, a label with more than two
        values without ``positive``, all-missing feature columns, no usable feature, or fewer
        rows per class than the cross-validation needs. One line, naming columns only.
    """
    if task not in DEFAULT_LABELS:
        raise TrainingError(f"unknown task {task!r}; choose one of {', '.join(DEFAULT_LABELS)}")
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    label = label if label is not None else DEFAULT_LABELS[task]
    if label is not None and label not in frame.columns:
        hint = "--label" if DEFAULT_LABELS[task] != label else f"the default label of --task {task}; pass --label COL"
        raise TrainingError(f"the table has no label column {label!r} ({hint})")
    treatment_col = treatment if treatment is not None else ("treatment" if task == "uplift" else None)
    if treatment_col is not None and treatment_col not in frame.columns:
        raise TrainingError(f"the table has no treatment column {treatment_col!r} (--treatment)")
    for col in protected:
        if col not in frame.columns:
            raise TrainingError(f"--protected: the table has no column {col!r}")
    id_name = detect_id_column(frame, id_col)

    dropped = 0
    if label is not None:
        keep = frame[label].notna()
        if treatment_col is not None:
            keep &= frame[treatment_col].notna()
        dropped = int((~keep).sum())
        frame = frame.loc[keep]
        if frame.empty:
            raise TrainingError(f"label {label!r} is missing in every row")
    y = positive_value = None
    if label is not None:
        y, positive_value = binary_values(frame[label], column=label, positive=positive)
        counts = y.value_counts()
        if len(counts) < 2:
            raise TrainingError(f"label {label!r} has a single class; a binary model needs both classes")
        if int(counts.min()) < CV_FOLDS + 1:
            raise TrainingError(f"the table has fewer rows per class ({int(counts.min())}) than the "
                                f"{CV_FOLDS} cross-validation folds plus a test row need")
    treat = None
    if treatment_col is not None:
        treat, _ = binary_values(frame[treatment_col], column=treatment_col, what="treatment")

    sensitive_cols = list(dict.fromkeys([c for c in DEFAULT_PROTECTED if c in frame.columns] + list(protected)))
    excluded: dict[str, str] = {}
    if id_name is not None:
        excluded[id_name] = "id column"
    for col in frame.columns:
        if col in excluded:
            continue
        if col == label:
            excluded[col] = "label"
        elif col == treatment_col or col in LABEL_COLUMNS:
            excluded[col] = "label or treatment of a task"
        elif col in sensitive_cols:
            excluded[col] = "protected attribute, measured for fairness only"
        elif pd.api.types.is_datetime64_any_dtype(frame[col]) or isinstance(frame[col].dtype, pd.PeriodDtype):
            excluded[col] = "date/time"
        else:
            reason = _identifier_reason(col, frame[col])
            if reason:
                excluded[col] = reason
    features = [c for c in frame.columns if c not in excluded]
    all_nan = [c for c in features if frame[c].isna().all()]
    if all_nan:
        raise TrainingError(f"feature column(s) {', '.join(all_nan)} are missing in every row; "
                            "drop them or fix the feature build")
    if not features:
        raise TrainingError("the table has no usable feature column (only ids, labels or excluded columns)")

    # Native categories (XGBoost) on every level: text and boolean columns are categorical.
    spec = TableEncoder(columns=features, one_hot=False, max_categories=None).fit(frame)
    X = spec.transform(frame)
    sensitive = frame[sensitive_cols].astype("string") if sensitive_cols else pd.DataFrame(index=frame.index)
    return Prepared(
        X=X, y=y, ids=frame[id_name] if id_name is not None else None, treatment=treat,
        sensitive=sensitive, spec=spec, label=label, positive=positive_value, id_col=id_name,
        treatment_col=treatment_col, excluded=excluded, dropped_rows=dropped,
    )


def fit_on_training_part(prepared: Prepared, frame: pd.DataFrame, train_positions: np.ndarray) -> Prepared:
    """Refit the encoder on the training rows only and re-encode every row with it.

    :func:`prepare` sees the whole table (it chooses the feature *columns*); the category lists
    the model learns must come from the training part alone, else a level that occurs only in
    the held-out rows would be known to the model before it is scored on them. Levels first seen
    outside the training part become missing, as for any new table at scoring time; a feature
    that is all-missing in the training part is dropped.

    Parameters
    ----------
    prepared:
        Output of :func:`prepare` on ``frame``.
    frame:
        The table :func:`prepare` was given (rows are looked up by ``prepared.X.index``).
    train_positions:
        Positions (into ``prepared.X``) of the training rows.
    """
    rows = frame.loc[prepared.X.index]
    rows.columns = [str(c) for c in rows.columns]
    spec = TableEncoder(columns=list(prepared.spec.features), one_hot=False,
                        max_categories=None).fit(rows.iloc[train_positions])
    return replace(prepared, X=spec.transform(rows), spec=spec)
