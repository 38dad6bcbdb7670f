"""Ranked, explained suggestions: dense retrieval from the index, lexical fusion, diversity, reasons."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np

from matching.diversity import mmr_order
from matching.explain import Explanation, PhraseMatch, explain_block
from matching.index import CandidateFilter, PhraseIndex, Scored
from matching.lexical import LexicalModel
from matching.scoring import Kind, ScoringParams, coverage_block, direction_roles, fuse_directions, hybrid
from matching.themes import ThemeTagger
from matching.vectors import ProfileVectors

__all__ = ["Query", "Suggestion", "Recommender"]


@dataclass(frozen=True)
class Query:
    """Who asks: its phrase vectors, its whole text (for TF-IDF) and its kind."""

    vectors: ProfileVectors
    text: str
    kind: Kind
    key: str | None = None  # a stored profile: its TF-IDF row is reused instead of transforming text


@dataclass(frozen=True)
class Suggestion:
    key: str
    score: float
    dense: float
    lexical: float
    forward: float
    backward: float | None
    matches: list[PhraseMatch] = field(default_factory=list)
    shared_themes: list[str] = field(default_factory=list)
    shared_terms: list[str] = field(default_factory=list)


class Recommender:
    """Scores one query against the index: the same path serves the API, the batch job and evaluation.

    The index returns a pool of the best candidates by dense score (several times k); the pool is
    re-ranked with the lexical score, optionally diversified, and the final k are explained.
    """

    def __init__(
        self,
        index: PhraseIndex,
        lexical: LexicalModel,
        tagger: ThemeTagger | None = None,
        params: ScoringParams = ScoringParams(),
        *,
        pool_factor: int = 5,
        min_pool: int = 50,
    ) -> None:
        self.index = index
        self.lexical = lexical
        self.tagger = tagger
        self.params = params
        self.pool_factor = pool_factor
        self.min_pool = min_pool

    def suggest(
        self,
        query: Query,
        filt: CandidateFilter,
        k: int = 10,
        *,
        diversity: float = 0.0,
        explained: bool = True,
        exact: bool = False,
    ) -> list[Suggestion]:
        roles = direction_roles(query.kind, Kind(filt.kind))
        pool = self.index.top_k(query.vectors, roles, self.params, k, filt, exact=exact, pool=self.pool_size(k))
        return self.rank(query, pool, k, diversity=diversity, explained=explained)

    def pool_size(self, k: int) -> int:
        """How many candidates by dense score are re-ranked lexically for the final k."""
        return max(k * self.pool_factor, self.min_pool)

    def rank(self, query: Query, pool: list[Scored], k: int, *, diversity: float = 0.0, explained: bool = True) -> list[Suggestion]:
        """The best k of a pool retrieved from this index: lexical fusion, order, diversity, reasons.

        `suggest` calls it after `index.top_k`; the batch job calls `rank_many` with pools it
        retrieved itself. Every key of the pool must be in the index and of one kind, the target.
        """
        return self.rank_many([query], [pool], k, diversity=diversity, explained=explained)[0]

    def rank_many(
        self, queries: Sequence[Query], pools: Sequence[list[Scored]], k: int, *, diversity: float = 0.0, explained: bool = True
    ) -> list[list[Suggestion]]:
        """`rank` of each query with its own pool, a block at a time: the batch's hundreds of queries
        share one lexical pass and one explanation pass, which per query cost more than scoring.

        The queries are of one kind and the pools' keys of one kind, the target.
        """
        if k <= 0:
            return [[] for _ in queries]
        keys = [[s.key for s in pool] for pool in pools]
        query_of = np.repeat(np.arange(len(queries)), [len(pool) for pool in pools])
        query_rows = self.lexical.query_rows([q.key for q in queries], [q.text for q in queries])
        overlap = self.lexical.overlap(query_rows, query_of, [key for pool_keys in keys for key in pool_keys])
        lexical = self.lexical.pair_similarity(overlap)
        dense = np.array([s.dense for pool in pools for s in pool], dtype=np.float32)
        scores = hybrid(dense, lexical, self.params)
        bounds = np.concatenate(([0], np.cumsum([len(pool) for pool in pools]))).tolist()
        picks = [self._best_positions(keys[i], scores[a:b], k, diversity) for i, (a, b) in enumerate(zip(bounds, bounds[1:]))]
        chosen = [[bounds[i] + j for j in pick] for i, pick in enumerate(picks)]  # as pairs of the overlap
        if explained and any(picks):
            reasons = self._reasons(queries, [[keys[i][j] for j in pick] for i, pick in enumerate(picks)])
            terms = iter(self.lexical.pair_shared_terms(overlap, np.array([p for pairs in chosen for p in pairs], dtype=np.int64)))
        else:
            reasons, terms = [[None] * len(pick) for pick in picks], repeat(None)
        return [
            [_suggestion(pools[i][j], float(scores[p]), float(lexical[p]), why, next(terms)) for j, p, why in zip(pick, pairs, reasons[i])]
            for i, (pick, pairs) in enumerate(zip(picks, chosen))
        ]

    def _best_positions(self, keys: list[str], scores: np.ndarray, k: int, diversity: float) -> list[int]:
        """The positions in a pool of its best k, in order: by score, ties by key, or diversified."""
        # ties broken by id so equal inputs give equal answers
        rounded = [-round(score, 6) for score in scores.tolist()]
        order = sorted(range(len(keys)), key=lambda i: (rounded[i], keys[i]))
        if diversity <= 0:
            return order[:k]
        centroids = np.stack([_centroid(self.index.vectors_of(keys[i])) for i in order])
        picked = mmr_order(scores[order], centroids, k, diversity)
        return [order[i] for i in picked]

    def _reasons(self, queries: Sequence[Query], keys: list[list[str]]) -> list[list[Explanation]]:
        """The phrase pairs and shared themes of each query with each of its suggested keys, found together."""
        target = next(pool[0] for pool in keys if pool)
        roles = direction_roles(queries[0].kind, Kind(self.index.meta_of(target).kind))
        # a key suggested to several queries is copied out once, and its themes found once
        vectors = {key: self.index.vectors_of(key) for pool in keys for key in pool}
        candidates = [[vectors[key] for key in pool] for pool in keys]
        return explain_block([q.vectors for q in queries], candidates, roles, self.params, self.tagger)

    def pair_scores(self, rows: list[str], cols: list[str], *, block_rows: int = 16) -> np.ndarray:
        """The hybrid city ↔ city score of every stored row profile with every column profile.

        The same score the suggestions carry, computed exactly for a whole cohort: the columns'
        phrases are gathered once and the rows scored against them a block at a time, so memory
        stays at a few block-sized similarity matrices.
        """
        out = np.zeros((len(rows), len(cols)), dtype=np.float32)
        if not rows or not cols:
            return out
        roles = direction_roles(Kind.CITY, Kind.CITY)
        col_vectors = [self.index.vectors_of(c) for c in cols]
        matrix = np.ascontiguousarray(np.concatenate([v.vectors for v in col_vectors]))
        col_roles = np.concatenate([v.roles for v in col_vectors])
        offsets = np.concatenate([[0], np.cumsum([len(v) for v in col_vectors])])
        for start in range(0, len(rows), block_rows):
            queries = [self.index.vectors_of(r) for r in rows[start : start + block_rows]]
            sims = np.concatenate([q.vectors for q in queries]) @ matrix.T
            at = 0
            for i, q in enumerate(queries):
                forward, backward = coverage_block(sims[at : at + len(q)], q.roles, col_roles, offsets, roles, self.params)
                out[start + i] = fuse_directions(forward, backward, self.params.fusion)
                at += len(q)
        lexical = self.lexical.matrix(rows) @ self.lexical.matrix(cols).T
        return hybrid(out, np.asarray(lexical.toarray(), dtype=np.float32), self.params)


def _suggestion(scored: Scored, score: float, lexical: float, why: Explanation | None = None, terms: list[str] | None = None) -> Suggestion:
    return Suggestion(
        key=scored.key,
        score=round(score, 6),
        dense=round(float(scored.dense), 6),
        lexical=round(lexical, 6),
        forward=round(float(scored.forward), 6),
        backward=None if scored.backward is None else round(float(scored.backward), 6),
        matches=why.matches if why is not None else [],
        shared_themes=why.shared_themes if why is not None else [],
        shared_terms=terms or [],
    )


def _centroid(vectors: ProfileVectors) -> np.ndarray:
    c = vectors.vectors.mean(axis=0)
    return c / max(float(np.linalg.norm(c)), 1e-9)
