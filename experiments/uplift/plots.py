"""The uplift report's plots: the Qini curve and uplift by decile."""

from __future__ import annotations

import pandas as pd

from experiments import uplift_metrics as um

__all__ = ["uplift_plots"]


def uplift_plots(y, t, s, s_resp, deciles: pd.DataFrame) -> dict[str, bytes]:
    # No matplotlib.use("Agg"): headless runs fall back to Agg by themselves, and forcing it
    # would switch off inline plots in the notebook that called us.
    import matplotlib.pyplot as plt

    from experiments.plots import png_bytes

    out = {}
    fig, ax = plt.subplots(figsize=(6, 4))
    for score, name in ((s, "uplift model"), (s_resp, "response model")):
        x, q = um.qini_curve(y, t, score)
        ax.plot(x, q, label=name)
    px, pq = um.perfect_qini_curve(y, t)
    ax.plot(px, pq, ":", color="grey", label="perfect")
    x, q = um.qini_curve(y, t, s)
    ax.plot([0, 1], [0, q[-1]], "--", color="black", label="random")
    ax.set_xlabel("fraction of customers targeted")
    ax.set_ylabel("incremental responses (test set)")
    ax.set_title("Qini curve")
    ax.legend()
    out["qini_curve.png"] = png_bytes(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(deciles["decile"], deciles["observed_uplift"].fillna(0.0), label="observed")
    ax.plot(deciles["decile"], deciles["mean_predicted_uplift"], "o-", color="darkorange", label="predicted")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("decile of predicted uplift (1 = highest)")
    ax.set_ylabel("uplift (response rate treated - control)")
    ax.set_title("Uplift by decile")
    ax.legend()
    out["uplift_by_decile.png"] = png_bytes(fig)
    return out
