"""``kequn train --task segment``: the training entry point (see :mod:`experiments.segment`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from experiments.encoding import TableEncoder
from experiments.segment.columns import (
    AGE_COLUMN,
    AGE_FEATURE,
    AUM_COLUMN,
    UNKNOWN,
    _numeric_features,
    varying_columns,
    with_age_midpoint,
)
from experiments.segment.config import load_segments_config
from experiments.segment.model import SegmentModel, _signature, value_tiers
from experiments.segment.personas import match_persona, profile_segments
from experiments.segment.plots import segment_plots
from experiments.segment.scaling import SkewScaler
from experiments.segment.selection import (
    BOOTSTRAPS,
    K_RANGE,
    _kmeans,
    bootstrap_stability,
    choose_k,
)
from kequn import console
from kequn.errors import TrainingError

__all__ = ["MIN_ROWS", "segment_encoder", "train_segment"]

#: Fewest rows a segmentation needs.
MIN_ROWS = 40


def segment_encoder(columns: list[str]) -> Pipeline:
    """The segment model's encoder: the shared :class:`~experiments.encoding.TableEncoder` on the
    clustered numeric ``columns``, then :class:`~experiments.segment.scaling.SkewScaler`."""
    return Pipeline([("encode", TableEncoder(columns=list(columns))), ("scale", SkewScaler())])


def train_segment(*, task: str = "segment", data: str | Path, label: str | None = None,
                  positive: str | None = None, treatment: str | None = None, id_col: str | None = None,
                  protected: list[str] | None = None, trials: int = 20, timeout: float | None = None,
                  experiment: str | None = None, seed: int = 42, prepared: Any = None,
                  frame: pd.DataFrame | None = None, lineage: Any = None, digest: str | None = None,
                  config: str | Path | None = None) -> dict[str, Any]:
    """Segment customers (value tier × behavioural cluster), profile personas, log one MLflow run.

    Parameters
    ----------
    data:
        Pseudonymised Parquet table, one row per customer (a feature table is best).
    label, positive, treatment:
        Not used (segmentation is unsupervised); accepted for the dispatcher's uniform call.
    id_col, protected:
        Id column (never a feature) and extra protected attributes (not clustered on).
    trials, timeout:
        Not used: k is chosen by an exhaustive grid over :data:`K_RANGE`.
    experiment, seed:
        MLflow experiment name (default ``kequn-segment``) and random seed.
    prepared, frame, lineage, digest:
        Passed by :func:`experiments.train.run_training`; loaded here when not given.
    config:
        conf/segments.yaml by default.

    Returns
    -------
    dict
        ``{"run_id", "metrics", "summary"}`` with metrics ``silhouette``, ``n_segments``,
        ``stability_ari`` and more.

    Raises
    ------
    TrainingError
        Too few rows or no usable numeric feature (one line).
    """
    import mlflow

    from experiments.data import load_training_table
    from experiments.packaging import model_env
    from experiments.runs import training_run
    from experiments.segment.report import write_segment_report

    del label, positive, treatment, timeout
    cfg = load_segments_config(config)
    path = Path(data)
    if frame is None or lineage is None:
        with console.stage("load clean table") as st:
            frame, lineage = load_training_table(path)
            st.done(f"{len(frame)} rows, {frame.shape[1]} columns")
            prepared = None
    frame = frame.reset_index(drop=True)
    if len(frame) < MIN_ROWS:
        raise TrainingError(f"{path}: segmentation needs at least {MIN_ROWS} customers. Got {len(frame)} rows")
    if id_col and id_col not in frame.columns:
        raise TrainingError(f"{path}: --id column {id_col!r} not found")
    id_name = id_col or ("customer_no" if "customer_no" in frame.columns else None)
    if id_name and frame[id_name].duplicated().any():
        raise TrainingError(f"{path}: column {id_name!r} repeats customers; segmentation needs one row per "
                            "customer (use the feature table of `kequn features`)")
    protected = list(protected or [])
    numeric = _numeric_features(frame, prepared, id_name, protected)
    use_age = AGE_COLUMN in frame.columns and AGE_COLUMN not in protected
    candidates = numeric + ([AGE_FEATURE] if use_age else [])
    work = with_age_midpoint(frame, candidates)
    columns = varying_columns(work, candidates)
    if len(columns) < 2:
        raise TrainingError(f"{path}: segmentation needs at least 2 varying numeric features. "
                            f"Got {len(columns)}")
    encoder = segment_encoder(columns).fit(work)
    log_features = [c for c, logged in zip(columns, encoder[-1].log_mask_, strict=True) if logged]
    warnings_out: list[str] = []
    if AUM_COLUMN not in frame.columns:
        warnings_out.append(f"no {AUM_COLUMN!r} column: value tiers are 'unknown'")
    Z = encoder.transform(work)

    with console.stage(f"choose the number of segments (k in {K_RANGE.start}..{K_RANGE.stop - 1})") as st:
        k_range = range(K_RANGE.start, min(K_RANGE.stop, len(frame) // 5 + 1))
        if len(k_range) == 0:
            k_range = range(2, 3)
        k, scores, k_stability = choose_k(Z, seed=seed, k_range=k_range)
        st.done(", ".join(f"k={kk} {v:.3f}/{k_stability[kk]:.2f}" for kk, v in scores.items()) + f" → k={k}")
    with console.stage("fit segments and check stability") as st:
        kmeans = _kmeans(k, seed).fit(Z)
        segments = kmeans.labels_.astype(int)
        stability = bootstrap_stability(Z, k, segments, seed=seed)
        st.done(f"mean bootstrap ARI {np.mean(stability):.3f}")
    tiers = value_tiers(frame, cfg.value_tiers)
    profiles = profile_segments(frame, segments, tiers)
    tier_strategy = {t.name: t for t in cfg.value_tiers}
    names: dict[int, str] = {}
    for prof in profiles:
        persona = match_persona(prof, cfg.personas) if prof["profiled"] else None
        prof["persona"] = persona.name if persona else UNKNOWN
        prof["persona_label_zh"] = persona.label_zh if persona else ""
        prof["strategy"] = persona.strategy if persona else ""
        names[prof["segment"]] = prof["persona"]
        top_tier = max(prof.get("value_tier_mix", {UNKNOWN: 1.0}).items(), key=lambda kv: kv[1])[0]
        prof["main_value_tier"] = top_tier
        prof["value_tier_strategy"] = tier_strategy[top_tier].strategy if top_tier in tier_strategy else ""
    mean_ari = float(np.mean(stability))
    if mean_ari < 0.6:
        warnings_out.append(f"segments are unstable across bootstrap resamples (mean ARI {mean_ari:.2f})")
    crosstab = pd.crosstab(pd.Series(segments, name="segment"), pd.Series(tiers, name="value_tier"))
    silhouette = scores[k]
    metrics = {"silhouette": silhouette, "n_segments": float(k), "stability_ari": mean_ari,
               "stability_ari_min": float(np.min(stability)), "n_customers": float(len(frame)),
               "segment_share_min": float(min(p["share"] for p in profiles)),
               "n_value_tiers": float(len(set(tiers) - {UNKNOWN})),
               **{f"silhouette_k{kk}": v for kk, v in scores.items()},
               **{f"stability_k{kk}": v for kk, v in k_stability.items()}}
    report = {
        "task": "segment",
        "n_customers": int(len(frame)),
        "n_segments": int(k),
        "features": columns,
        "log_features": log_features,
        "k_selection": {str(kk): v for kk, v in scores.items()},
        "k_stability": {str(kk): v for kk, v in k_stability.items()},
        "stability_ari": stability,
        "metrics": metrics,
        "personas": profiles,
        "value_tiers": [{"name": t.name, "label_zh": t.label_zh, "min_aum": t.min_aum, "strategy": t.strategy,
                         "customers": int((tiers == t.name).sum())} for t in cfg.tiers_desc()],
        "crosstab": {str(int(seg)): {str(c): int(v) for c, v in row.items()} for seg, row in crosstab.iterrows()},
        "warnings": warnings_out,
        "lineage": lineage.tags(),
    }
    model = SegmentModel(encoder, kmeans, names, cfg.tiers_desc())

    with training_run("segment", experiment, lineage, seed=seed, digest=digest, frame=frame, path=path,
                      label=None, exclude=[id_name] if id_name else []) as run:
        run_id = run.run_id
        mlflow.log_params({"algorithm": "kmeans", "k": k, "k_rule": "stable_silhouette_peak", "k_range": f"{k_range.start}-{k_range.stop - 1}",
                           "n_features": len(columns), "seed": seed, "trials_unused": trials,
                           "bootstraps": BOOTSTRAPS})
        mlflow.log_metrics(metrics)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "segment_report"
            write_segment_report(report, segment_plots(Z, segments, frame, scores, names), out)
            mlflow.log_artifacts(str(out), artifact_path="segment_report")
        mlflow.pyfunc.log_model(name="model", python_model=model,
                                signature=_signature(frame, model), **model_env(model))
        if warnings_out:
            mlflow.set_tag("kequn.warnings", " | ".join(warnings_out)[:4900])

    persona_text = ", ".join(f"S{p['segment']} {p['persona']} {p['share']:.0%}" for p in profiles)
    lines = [f"segment run {run_id}: {k} segments (silhouette {silhouette:.3f}, bootstrap ARI {mean_ari:.2f}): "
             f"{persona_text}"]
    lines += [f"warning: {w}" for w in warnings_out]
    return {"run_id": run_id, "metrics": metrics, "summary": "\n".join(lines)}
