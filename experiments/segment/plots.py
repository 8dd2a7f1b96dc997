"""The segment report's plots: sizes, AUM by segment, a PCA view and the silhouette by k."""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.segment.columns import AUM_COLUMN

__all__ = ["segment_plots"]


def segment_plots(Z: np.ndarray, segments: np.ndarray, frame: pd.DataFrame, scores: dict[int, float],
           names: dict[int, str]) -> dict[str, bytes]:

    # No matplotlib.use("Agg"): headless runs fall back to Agg by themselves, and forcing it
    # would switch off inline plots in the notebook that called us.
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    from experiments.plots import png_bytes as png

    out = {}
    ids = sorted(np.unique(segments))
    labels = [f"S{i}" for i in ids]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(labels, [int((segments == i).sum()) for i in ids], color="#4c72b0")
    ax.set_ylabel("customers")
    ax.set_title("Segment sizes")
    out["segment_sizes.png"] = png(fig)

    if AUM_COLUMN in frame.columns:
        aum = pd.to_numeric(frame[AUM_COLUMN], errors="coerce").to_numpy()
        data = [np.log10(np.clip(aum[(segments == i) & np.isfinite(aum)], 1, None)) for i in ids]
        if all(len(d) for d in data):
            fig, ax = plt.subplots(figsize=(6, 3.5))
            ax.boxplot(data, showfliers=False)
            ax.set_xticks(range(1, len(ids) + 1), labels)
            ax.set_ylabel("log10 AUM (CNY)")
            ax.set_title("AUM by segment")
            out["aum_by_segment.png"] = png(fig)

    rng = np.random.default_rng(0)
    idx = rng.choice(len(Z), size=min(len(Z), 2000), replace=False)
    xy = PCA(n_components=2, random_state=0).fit_transform(Z[idx]) if Z.shape[1] >= 2 else np.c_[Z[idx], Z[idx]]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for i in ids:
        m = segments[idx] == i
        ax.scatter(xy[m, 0], xy[m, 1], s=6, alpha=0.6, label=f"S{i} {names.get(i, '')}")
    ax.set_xlabel("PC1")
    ax.set_ylabel("PC2")
    ax.set_title("Segments on the first two principal components (sample)")
    ax.legend(fontsize=7, markerscale=2)
    out["segments_pca.png"] = png(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(list(scores), list(scores.values()), "o-")
    ax.set_xlabel("number of segments k")
    ax.set_ylabel("silhouette")
    ax.set_title("Choice of k")
    out["silhouette_by_k.png"] = png(fig)
    return out
