"""How many segments: a stable silhouette peak over a small grid of k, and bootstrap stability."""

from __future__ import annotations

import numpy as np

from kequn.errors import TrainingError

__all__ = ["BOOTSTRAPS", "K_RANGE", "bootstrap_stability", "choose_k"]

K_RANGE = range(3, 9)
#: Rows used to choose k and to measure the silhouette (KMeans itself is fitted on all rows).
SAMPLE_ROWS = 3000
SILHOUETTE_ROWS = 2000
BOOTSTRAPS = 5
#: Bootstrap refits per candidate k when choosing k.
K_BOOTSTRAPS = 3
#: A candidate k needs at least this mean bootstrap ARI ...
STABLE_ARI = 0.8
#: ... and at least this fraction of the best silhouette over the candidates.
PEAK_TOLERANCE = 0.8


def _kmeans(k: int, seed: int):
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=4, random_state=seed)


def choose_k(Z: np.ndarray, *, seed: int,
             k_range: range = K_RANGE) -> tuple[int, dict[int, float], dict[int, float]]:
    """Choose the number of segments on (a sample of) ``Z``.

    For every k of ``k_range``: the silhouette of KMeans and its stability (mean ARI of
    :data:`K_BOOTSTRAPS` refits on bootstrap resamples). Candidates are the stable k (mean ARI
    at least :data:`STABLE_ARI`) whose silhouette is at least :data:`PEAK_TOLERANCE` of the best
    and a local peak (above the k just below, not below the k just above); the largest
    candidate wins. Without candidates, the best silhouette among the stable k (or all k).

    Returns
    -------
    tuple
        The chosen k, the silhouette per k and the stability per k.
    """
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    rng = np.random.default_rng(seed)
    sample = Z[rng.choice(len(Z), size=min(len(Z), SAMPLE_ROWS), replace=False)]
    scores: dict[int, float] = {}
    stability: dict[int, float] = {}
    for k in k_range:
        if k >= len(sample):
            break
        labels = _kmeans(k, seed).fit_predict(sample)
        if np.unique(labels).size < 2:
            continue
        scores[k] = float(silhouette_score(sample, labels, sample_size=min(len(sample), SILHOUETTE_ROWS),
                                           random_state=seed))
        boots = [_kmeans(k, seed + 100 + b).fit(sample[rng.integers(0, len(sample), len(sample))]).predict(sample)
                 for b in range(K_BOOTSTRAPS)]
        stability[k] = float(np.mean([adjusted_rand_score(labels, b) for b in boots]))
    if not scores:
        raise TrainingError("no clustering with at least 2 segments could be fitted; the features do not vary")
    stable = [k for k in scores if stability[k] >= STABLE_ARI] or list(scores)
    top = max(scores[k] for k in stable)
    peaks = [k for k in stable
             if scores[k] >= PEAK_TOLERANCE * top
             and scores[k] > scores.get(k - 1, -np.inf) and scores[k] >= scores.get(k + 1, -np.inf)]
    best = max(peaks) if peaks else max(stable, key=lambda k: scores[k])
    return best, scores, stability


def bootstrap_stability(Z: np.ndarray, k: int, reference: np.ndarray, *, seed: int,
                        n_boot: int = BOOTSTRAPS) -> list[float]:
    """ARI between ``reference`` labels and KMeans refitted on bootstrap resamples (on a sample)."""
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(seed + 1)
    idx = rng.choice(len(Z), size=min(len(Z), SAMPLE_ROWS), replace=False)
    sample, ref = Z[idx], reference[idx]
    scores = []
    for b in range(n_boot):
        boot = sample[rng.integers(0, len(sample), len(sample))]
        labels = _kmeans(k, seed + 100 + b).fit(boot).predict(sample)
        scores.append(float(adjusted_rand_score(ref, labels)))
    return scores
