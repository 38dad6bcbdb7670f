"""Suggestions for every stored profile at once: the blocks the batch job scores, here or on workers.

Per block of profiles asking for one target, candidates are shortlisted by code presence (one
sparse product for the whole block, `matching.presence`); the index narrows each shortlist by the
reduced late interaction and rescores the rest exactly, as its cascade does. Where the exact scores
show the cut fell too close (a crowd of near ties across it), the shortlist is widened by the
candidates beyond it that could still reach the pool. The pool must be the exhaustive one, not only
its top k: the learned ranker standardises its features within the pool;
`Recommender.rank_many`, the code the live API's `rank` runs, fuses, orders and explains the whole
block's pools together. Below the index's cascade threshold there are no codes, and every item is
scored exhaustively, as live.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from matching.index import Scored, rise_margin
from matching.presence import CodePresence
from matching.recommend import Query, Recommender, Suggestion, widened
from matching.scoring import DirectionRoles, direction_roles
from matching.types import CandidateFilter, Kind

__all__ = ["BlockItem", "BatchScorer", "SHORTLIST_SIZE", "suggest_block"]

# candidates per query kept by presence: organisations asking for organisations, whose scores tie
# most, need the most; `benchmarks/rerank.py` checks stored lists against exhaustive scoring
SHORTLIST_SIZE = 600
_RESERVE = 4  # times the shortlist: how far beyond it a close cut may widen


@dataclass(frozen=True)
class BlockItem:
    """One profile and target in a block: the key names it, the filter says who may be suggested."""

    key: str
    text: str
    kind: str
    filt: CandidateFilter
    partners: frozenset[str] = frozenset()  # its home city's partner cities (the learned `partner_city`)

    @property
    def roles(self) -> DirectionRoles:
        return direction_roles(Kind(self.kind), Kind(self.filt.kind))

    @property
    def presence_key(self) -> tuple:
        """Items with the same key share one presence matrix: the target kind and its serving roles."""
        return self.filt.kind, self.roles.target_serves


class BatchScorer:
    """Scores blocks of stored profiles; keeps one presence matrix (~0.5 GB at 100k) at a time.

    Order the items by `BlockItem.presence_key` so each matrix is built once per run.
    """

    def __init__(self, recommender: Recommender, *, shortlist_size: int = SHORTLIST_SIZE) -> None:
        self.recommender = recommender
        self.shortlist_size = shortlist_size
        self._presence: CodePresence | None = None

    def presence_for(
        self, item: BlockItem, *, allocate: Callable[[tuple[int, int]], np.ndarray] | None = None, fill: bool = True
    ) -> CodePresence | None:
        """The presence matrix for the item's target, built on first need; None without codes.

        `allocate` and `fill=False` are `CodePresence`'s: a matrix new here is left for the caller
        to fill, part by part (the batch's forked workers do, into shared memory).
        """
        index = self.recommender.index
        if not index.fitted:
            return None
        current = self._presence
        if current is None or (current.kind, current.serves) != item.presence_key:
            self._presence = None  # free the old matrix before building the next
            self._presence = CodePresence(
                index, item.filt.kind, item.roles.target_serves, self.recommender.params, allocate=allocate, fill=fill
            )
        return self._presence

    @property
    def presence(self) -> CodePresence | None:
        """The presence matrix built last, if any."""
        return self._presence

    def suggest_block(self, items: Sequence[BlockItem], k: int) -> list[list[Suggestion]]:
        """Top-k explained suggestions for each item, in order."""
        out: list[list[Suggestion] | None] = [None] * len(items)
        groups: dict[tuple, list[int]] = {}
        for i, item in enumerate(items):
            groups.setdefault((item.kind, item.filt.kind), []).append(i)
        for positions in groups.values():
            for i, found in zip(positions, self._suggest_group([items[i] for i in positions], k)):
                out[i] = found
        return out

    def _suggest_group(self, items: list[BlockItem], k: int) -> list[list[Suggestion]]:
        """Items of one query kind and one target."""
        recommender, index = self.recommender, self.recommender.index
        queries = [
            Query(
                index.vectors_of(it.key),
                it.text,
                Kind(it.kind),
                key=it.key,
                place=recommender.places.get(it.key),
                partners=it.partners,
            )
            for it in items
        ]
        presence = self.presence_for(items[0])
        if presence is None:
            return [recommender.suggest(q, it.filt, k) for q, it in zip(queries, items)]
        roles = items[0].roles
        slots = np.array([index.slot(it.key) for it in items], dtype=np.int64)
        allowed = index.allowed_among([it.filt for it in items], presence.candidates_)
        pool, rescore = recommender.pool_size(k), index.rescore_first(k)  # rescored as the live cascade does
        # the place priors' candidates join each pool as live (`Recommender.suggest`): their own
        # best `pool`, shortlisted from the same presence scores
        priors = self._prior_masks(
            [recommender.prior_filters(q, it.filt) for q, it in zip(queries, items)], presence.candidates_
        )
        size, keep = max(self.shortlist_size, 30 * k), max(k, pool)
        shortlists, extras, approximations = presence.shortlists(
            slots, roles, allowed, size, also=priors, also_size=4 * pool
        )

        def best(query: Query, candidates: np.ndarray) -> list[Scored]:
            return index.top_k_among(query.vectors, roles, recommender.params, k, candidates, pool, rescore)

        def nearest(i: int) -> list[Scored]:
            """The best `keep` by exact score: from the shortlist, widened where it was cut too close.

            How far the exact scores found rise above their approximations (`rise_margin`, for
            as many again as the shortlist holds) says whether a candidate past the cut could
            still reach the `keep`-th: a cut inside a crowd of near ties widens, a clear one not.
            """
            found = best(queries[i], shortlists[i])
            if len(shortlists[i]) < size or len(found) < keep:
                return found  # every allowed candidate is in it
            found_slots = np.array([index.slot(s.key) for s in found])
            found_scores = np.array([s.dense for s in found], dtype=np.float32)
            rise = found_scores - approximations[i][np.searchsorted(shortlists[i], found_slots)]
            reach = found[-1].dense - rise_margin(rise, size)
            if approximations[i].min() < reach:
                return found  # what lies beyond the cut scores no higher than its lowest
            beyond = presence.beyond(slots[i], roles, allowed[i], shortlists[i], reach, _RESERVE * size)
            order = np.argsort(found_slots)
            known = (found_slots[order], found_scores[order])
            more = index.reaching(queries[i].vectors, roles, recommender.params, beyond, *known, found[-1].dense)
            return sorted(found + more, key=lambda s: (-s.dense, s.key))[:keep]

        pools = [
            widened(nearest(i), [best(q, more) for more in mores]) for i, (q, mores) in enumerate(zip(queries, extras))
        ]
        return recommender.rank_many(queries, pools, k)

    def _prior_masks(self, priors: list[list[CandidateFilter]], candidates: np.ndarray) -> list[np.ndarray]:
        """(items × candidates) masks, the n-th of each item's prior filters in the n-th; an item
        with fewer priors allows nothing there."""
        masks = []
        for level in range(max((len(p) for p in priors), default=0)):
            filters = [p[level] if level < len(p) else p[0] if p else CandidateFilter(kind="city") for p in priors]
            mask = self.recommender.index.allowed_among(filters, candidates)
            mask[[i for i, p in enumerate(priors) if level >= len(p)]] = False
            masks.append(mask)
        return masks


def suggest_block(scorer: BatchScorer, items: Sequence[BlockItem], k: int) -> list[list[Suggestion]]:
    """Top-k explained suggestions for each item; memory is per block, never all pairs at once."""
    return scorer.suggest_block(items, k)
