"""kequn experiments: training, tuning, segmentation, uplift, evaluation, fairness, tracking.

Importing any module of the package first imports :mod:`kequn.threads` (passive OpenMP waiting,
set before numpy, scikit-learn or xgboost can load an OpenMP runtime).
"""

import kequn.threads  # noqa: F401
