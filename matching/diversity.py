"""Maximal marginal relevance, so ten suggestions are not ten near-copies of one partner."""

import numpy as np

__all__ = ["mmr_order"]


def mmr_order(scores: np.ndarray, centroids: np.ndarray, k: int, diversity: float) -> list[int]:
    """Return up to k indices, each maximising (1 - diversity)·score − diversity·(max cosine to those chosen).

    `diversity` = 0 keeps the score order; 1 chooses only for difference.
    """
    n = len(scores)
    if n == 0:
        return []
    if diversity <= 0:
        return list(np.argsort(-scores, kind="stable")[:k])
    sims = centroids @ centroids.T
    chosen: list[int] = []
    redundancy = np.full(n, -np.inf)
    remaining = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        penalty = np.where(np.isfinite(redundancy), redundancy, 0.0)
        value = np.where(remaining, (1 - diversity) * scores - diversity * penalty, -np.inf)
        best = int(np.argmax(value))
        chosen.append(best)
        remaining[best] = False
        redundancy = np.maximum(redundancy, sims[best])
    return chosen
