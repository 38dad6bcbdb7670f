"""Ranking metrics over queries with known relevant answers: MRR, Recall@k, nDCG@k."""

from collections.abc import Sequence

import numpy as np

__all__ = ["rank_of_first", "query_metrics", "mean_metrics"]


def rank_of_first(ranking: Sequence[str], relevant: set[str]) -> int | None:
    """1-based rank of the best-placed relevant item, None when none is ranked."""
    return next((i + 1 for i, key in enumerate(ranking) if key in relevant), None)


def query_metrics(
    ranking: Sequence[str], relevant: set[str], ks: Sequence[int] = (1, 3), ndcg_at: int = 3
) -> dict[str, float]:
    """Metrics of one query with binary relevance."""
    first = rank_of_first(ranking, relevant)
    out = {"mrr": 1.0 / first if first else 0.0}
    for k in ks:
        out[f"recall@{k}"] = 1.0 if first is not None and first <= k else 0.0
    gains = [1.0 / np.log2(i + 2) for i, key in enumerate(ranking[:ndcg_at]) if key in relevant]
    ideal = sum(1.0 / np.log2(i + 2) for i in range(min(len(relevant), ndcg_at)))
    out[f"ndcg@{ndcg_at}"] = float(sum(gains) / ideal) if ideal else 0.0
    return out


def mean_metrics(per_query: Sequence[dict[str, float]]) -> dict[str, float]:
    if not per_query:
        return {}
    return {name: round(float(np.mean([q[name] for q in per_query])), 4) for name in per_query[0]}
