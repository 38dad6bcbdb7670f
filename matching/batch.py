"""Suggestions for a block of profiles at once: the unit of work the batch job hands to a worker."""

from collections.abc import Sequence
from dataclasses import dataclass

from matching.index import CandidateFilter
from matching.recommend import Query, Recommender, Suggestion

__all__ = ["BlockItem", "suggest_block"]


@dataclass(frozen=True)
class BlockItem:
    """One profile and target in a block: the key names it, the filter says who may be suggested."""

    key: str
    text: str
    kind: str
    filt: CandidateFilter


def suggest_block(recommender: Recommender, items: Sequence[BlockItem], k: int) -> list[list[Suggestion]]:
    """Top-k explained suggestions for each item; memory is per item, never all pairs at once."""
    from matching.scoring import Kind

    out = []
    for item in items:
        query = Query(recommender.index.vectors_of(item.key), item.text, Kind(item.kind), key=item.key)
        out.append(recommender.suggest(query, item.filt, k))
    return out
