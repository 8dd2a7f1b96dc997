"""kequn features: the feature registry and point-in-time builders for customer features and labels.

The light public API (no heavy imports): the registry and the data dictionary. The builder is
:func:`features.build.build_features`.
"""

from features.dictionary import write_dictionary
from features.registry import (
    FEATURES,
    ID_COLUMN,
    LABEL_COLUMNS,
    LABELS,
    PROTECTED_DEFAULT,
    REGISTRY_VERSION,
    Feature,
    categorical_features,
    feature_names,
    numeric_features,
)

__all__ = [
    "FEATURES", "ID_COLUMN", "LABEL_COLUMNS", "LABELS", "PROTECTED_DEFAULT", "REGISTRY_VERSION", "Feature",
    "categorical_features", "feature_names", "numeric_features", "write_dictionary",
]
