"""The contact plan (`kequn plan`'s selection) against the synthetic bank's planted truth.

Trains the uplift model (``experiments.uplift.train_uplift``, as ``kequn train --task uplift``)
and a response-probability model (XGBoost on the treated customers' responses, the usual
"target whoever is most likely to buy" baseline) on bank A's feature table, then plans on bank B
(another seed of the same generator: other customers) with :func:`pipelines.planning.build_plan`
and the shipped conf/plan.yaml, and scores every list with B's planted truth
(``ground_truth/customers_truth``: ``treatment_effect`` is each customer's true incremental
response probability, ``uplift_group`` names the planted sleeping dogs). The truth never enters
training or planning; it is tokenised with the pseudonymisation key only to be joined here.

Per budget (share of B's customers) it prints the true incremental responses of

- the plan (default conf/plan.yaml: offers by value tier, ranked by expected gain, no
  marketing after a recent complaint), and the same without its do_not_contact rule;
- the plan ranked by uplift alone (every offer worth the same, no contact cost);
- random targeting (its expectation: mean true effect × contacts);
- targeting by response probability (top k by the response model);
- the oracle (top k by the true effect), for scale;

their true profit (true effect × the offer's value per response − contact cost, conf/plan.yaml),
and the share of B's planted sleeping dogs each list contacts (goal 0).

Usage::

    python bench/bench_plan_truth.py --train-features A/features.parquet \\
        --raw B/raw --features B/features.parquet [--trials 5]

Prints one JSON line. Uses ``MLFLOW_TRACKING_URI`` (set it to a scratch store).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before any OpenMP runtime loads

import mlflow  # noqa: E402
import numpy as np
import pandas as pd
from _truth import tokenised_truth  # bench/_truth.py, beside this script

from experiments.segment.config import load_segments_config
from experiments.uplift import plain_columns, train_uplift
from experiments.uplift.learners import DEFAULT_PARAMS, _fit_classifier, _proba
from pipelines.planning import PlanConfig, assign_offers, build_plan, load_plan_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-features", type=Path, required=True)
    parser.add_argument("--raw", type=Path, required=True, help="raw folder of the bank that is planned on")
    parser.add_argument("--features", type=Path, required=True, help="its feature table")
    parser.add_argument("--key-file", type=Path, default=None)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--budgets", default="0.1,0.2,0.3")
    args = parser.parse_args()
    budgets = [float(b) for b in args.budgets.split(",")]

    out: dict[str, object] = {}
    start = time.perf_counter()
    up = train_uplift(data=args.train_features, trials=args.trials, experiment="bench-plan-truth")
    out["train_seconds"] = round(time.perf_counter() - start, 1)
    out["train_test_qini_auc"] = round(up["metrics"]["test_qini_auc"], 4)
    model = mlflow.pyfunc.load_model(f"runs:/{up['run_id']}/model")
    encoder = model.unwrap_python_model().encoder

    train = plain_columns(pd.read_parquet(args.train_features))
    treated = train["treatment"].eq(1) & train["response"].notna()
    response_model = _fit_classifier(encoder.transform(train.loc[treated]).to_numpy(),
                                     train.loc[treated, "response"].astype(int).to_numpy(), dict(DEFAULT_PARAMS), 42)

    features = pd.read_parquet(args.features)
    frame = plain_columns(features)
    truth = tokenised_truth(args.raw, args.key_file)
    joined = frame[["customer_no"]].merge(truth, on="customer_no", how="left")
    effect = pd.to_numeric(joined["treatment_effect"], errors="coerce").fillna(0.0).to_numpy()
    dogs = (joined["uplift_group"] == "sleeping_dogs").to_numpy()
    n = len(frame)
    out.update(customers=n, truth_joined=int(joined["uplift_group"].notna().sum()), planted_sleeping_dogs=int(dogs.sum()),
               true_mean_effect=round(float(effect.mean()), 4))

    uplift = np.asarray(model.predict(frame), dtype=float)
    p_resp = _proba(response_model, encoder.transform(frame).to_numpy())
    out["uplift_corr_with_planted_effect"] = round(float(np.corrcoef(uplift, effect)[0, 1]), 3)
    out["predicted_sleeping_dogs"] = int((uplift < 0).sum())
    out["planted_dogs_predicted_negative_share"] = round(float((uplift[dogs] < 0).mean()), 3)

    segments = load_segments_config()
    config, _ = load_plan_config(None, segments)
    flat = PlanConfig.model_validate({**config.model_dump(), "channels": {k: {"cost": 0.0} for k in config.channels},
                                      "offers": [{**o.model_dump(), "value_per_response": 1.0} for o in config.offers]})
    no_rules = PlanConfig.model_validate({**config.model_dump(),
                                          "contact": {**config.contact.model_dump(), "do_not_contact": []}})
    # The planted sleeping dogs a rule on visible attributes made (pipelines/synth.py: a complaint
    # in the 90 days before S, or 60+ with little digital use), against those redrawn at random.
    age_low = pd.to_numeric(frame["age_band"].astype("string").str.extract(r"^(\d+)")[0], errors="coerce")
    visible = ((pd.to_numeric(frame["complaints_90d"], errors="coerce").fillna(0) > 0)
               | ((age_low >= 60) & (pd.to_numeric(frame["digital_share"], errors="coerce").fillna(0) < 0.2))).to_numpy()
    out["planted_dogs_visible"] = int((dogs & visible).sum())
    index = pd.Series(np.arange(n), index=frame["customer_no"].to_numpy())
    # Each customer's offer under conf/plan.yaml (value per response, channel cost): the true profit
    # of any list is sum(true effect × value − cost) over it (campaign offers; no retention here).
    offer = assign_offers(frame["value_tier"].astype("string").fillna("unknown").to_numpy(dtype=object), None,
                          frame["lifecycle_stage"].astype("string").to_numpy(dtype=object), config)
    value = np.array([o.value_per_response for o in config.offers])[offer]
    cost = np.array([config.channels[o.channel].cost for o in config.offers])[offer]
    true_gain = effect * value - cost
    rows = []
    for share in budgets:
        k = int(math.ceil(share * n - 1e-9))
        row: dict[str, object] = {"budget_pct": int(round(share * 100)), "budget": k}
        for name, cfg in (("plan", config), ("plan_without_do_not_contact", no_rules), ("plan_uplift_only", flat)):
            listing, report = build_plan(features, uplift=uplift, churn=None, segment=None, budget=k, config=cfg,
                                         segments_config=segments)
            picked = index.loc[listing["customer_no"].to_numpy()].to_numpy()
            row[f"{name}_contacts"] = int(len(picked))
            row[f"{name}_true_incremental"] = round(float(effect[picked].sum()), 1)
            row[f"{name}_true_profit"] = round(float(true_gain[picked].sum()))
            row[f"{name}_predicted_incremental"] = round(float(report["expected_incremental_responses"]), 1)
            row[f"{name}_sleeping_dogs_contacted_share"] = round(float(dogs[picked].sum() / max(dogs.sum(), 1)), 4)
            row[f"{name}_predicted_dogs_contacted"] = int(report["sleeping_dogs_contacted"])
            row[f"{name}_visible_dogs_contacted_share"] = round(float((dogs & visible)[picked].sum()
                                                                      / max((dogs & visible).sum(), 1)), 4)
            row[f"{name}_redrawn_dogs_contacted_share"] = round(float((dogs & ~visible)[picked].sum()
                                                                      / max((dogs & ~visible).sum(), 1)), 4)
        row["random_true_incremental"] = round(float(effect.mean() * k), 1)
        row["random_true_profit"] = round(float(true_gain.mean() * k))
        row["random_sleeping_dogs_contacted_share"] = round(share, 4)
        top_resp = np.argsort(-p_resp, kind="mergesort")[:k]
        row["response_model_true_incremental"] = round(float(effect[top_resp].sum()), 1)
        row["response_model_true_profit"] = round(float(true_gain[top_resp].sum()))
        row["response_model_sleeping_dogs_contacted_share"] = round(float(dogs[top_resp].sum() / max(dogs.sum(), 1)), 4)
        row["oracle_true_incremental"] = round(float(np.sort(effect)[::-1][:k].sum()), 1)
        row["oracle_true_profit"] = round(float(np.sort(true_gain)[::-1][:k].sum()))
        rows.append(row)
    out["budgets"] = rows
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
