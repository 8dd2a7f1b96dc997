"""How learnable is the synthetic bank's planted truth from the feature table?

Two ceilings, both measured on the feature table built from the clean zone (no ground truth
enters the features; the truth is joined afterwards by tokenising ``customer_no`` with the same
key as ``kequn pseudonymise``):

- uplift: the 5-fold cross-validated correlation between the planted ``treatment_effect`` and a
  GradientBoostingRegressor fitted from the visible features to it (an oracle that is *told* the
  effect; a real uplift model sees only treatment and response, so it stays below this);
  also the share of planted sleeping dogs among the oracle's 20 % lowest predictions;
- churn: 5-fold cross-validated ROC-AUC of sklearn's HistGradientBoostingClassifier against a
  LogisticRegression (standardised, median-imputed, one-hot categoricals) on ``churn_label``,
  plus the AUC of the planted ``churn_prob`` itself (the oracle).

Usage (after ``kequn synth``, ``kequn pseudonymise`` and ``kequn features`` with the same
``KEQUN_PSEUDONYM_KEY``)::

    python bench/bench_synth_truth.py --raw RAW --features features.parquet

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before any OpenMP runtime loads

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _truth import tokenised_truth  # noqa: E402  (bench/_truth.py, beside this script)
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingClassifier  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_val_predict  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from features.registry import categorical_features, numeric_features  # noqa: E402


def _encoded(frame: pd.DataFrame) -> pd.DataFrame:
    """Numeric features as float, categoricals as integer codes (NaN for missing)."""
    out = frame[numeric_features()].astype(float)
    for col in categorical_features():
        codes = frame[col].astype("category").cat.codes.astype(float)
        out[col] = codes.where(codes >= 0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--key-file", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    truth = tokenised_truth(args.raw, args.key_file)
    feats = pd.read_parquet(args.features)
    joined = feats[["customer_no"]].merge(truth, on="customer_no", how="left")
    x = _encoded(feats)
    folds = 5
    out: dict[str, object] = {"customers": len(feats), "truth_joined": int(joined["segment"].notna().sum())}

    # ---- uplift oracle
    start = time.perf_counter()
    effect = pd.to_numeric(joined["treatment_effect"]).to_numpy()
    group = joined["uplift_group"].to_numpy()
    out["uplift_group_shares"] = {str(k): round(float(v), 3)
                                  for k, v in pd.Series(group).value_counts(normalize=True).items()}
    gbr = make_pipeline(SimpleImputer(strategy="median"),
                        GradientBoostingRegressor(n_estimators=200, max_depth=3, learning_rate=0.1,
                                                  subsample=0.8, random_state=args.seed))
    pred = cross_val_predict(gbr, x, effect, cv=folds)
    out["uplift_oracle_corr"] = round(float(np.corrcoef(pred, effect)[0, 1]), 3)
    low = pred <= np.quantile(pred, 0.2)
    dogs = group == "sleeping_dogs"
    out["sleeping_dogs_in_lowest_20pct"] = round(float(low[dogs].mean()), 3)
    out["others_in_lowest_20pct"] = round(float(low[~dogs].mean()), 3)
    seg_mean = pd.Series(effect).groupby(joined["segment"].to_numpy()).transform("mean")
    out["uplift_corr_segment_mean"] = round(float(np.corrcoef(seg_mean, effect)[0, 1]), 3)
    out["uplift_seconds"] = round(time.perf_counter() - start, 1)

    # ---- churn: gradient boosting vs logistic regression
    start = time.perf_counter()
    y = feats["churn_label"].astype(int).to_numpy()
    out["churn_rate"] = round(float(y.mean()), 4)
    cv = StratifiedKFold(folds, shuffle=True, random_state=args.seed)
    hgb = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, early_stopping=False,
                                         categorical_features=[x.columns.get_loc(c) for c in categorical_features()],
                                         random_state=args.seed)
    p_hgb = cross_val_predict(hgb, x, y, cv=cv, method="predict_proba")[:, 1]
    cats = categorical_features()
    lr = make_pipeline(
        ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()),
             numeric_features()),
            ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=20), cats),
        ]),
        LogisticRegression(max_iter=2000, C=1.0),
    )
    xl = feats[numeric_features() + cats].copy()
    xl[cats] = xl[cats].astype("object").where(xl[cats].notna(), "missing").astype(str)
    p_lr = cross_val_predict(lr, xl, y, cv=cv, method="predict_proba")[:, 1]
    out["churn_auc_hgb"] = round(float(roc_auc_score(y, p_hgb)), 4)
    out["churn_auc_logistic"] = round(float(roc_auc_score(y, p_lr)), 4)
    out["churn_auc_gap"] = round(out["churn_auc_hgb"] - out["churn_auc_logistic"], 4)
    prob = pd.to_numeric(joined["churn_prob"]).to_numpy()
    ok = ~np.isnan(prob)
    out["churn_auc_planted_prob"] = round(float(roc_auc_score(y[ok], prob[ok])), 4)
    out["churn_seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
