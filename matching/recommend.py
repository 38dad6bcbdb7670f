"""Ranked, explained suggestions: dense retrieval from the index, learned (or hand-set) scoring,
diversity, reasons."""

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import repeat

import numpy as np
from scipy import sparse

from matching.context import ProfileContext
from matching.diversity import mmr_order
from matching.explain import Explanation, PhraseMatch, explain_block
from matching.features import FEATURES, Direction, Place, direction_of
from matching.index import PhraseIndex, Scored
from matching.lexical import LexicalModel, TermOverlap
from matching.popularity import UsualScores, UsualTables
from matching.ranker import LearnedRanker
from matching.scoring import (
    ScoringParams,
    coverage_block,
    direction_roles,
    explanation_roles,
    fuse_directions,
    hybrid,
)
from matching.themes import ThemeTagger
from matching.types import CandidateFilter, Kind, ProfileMeta
from matching.vectors import ProfileVectors

__all__ = ["Query", "Suggestion", "PreparedWrite", "Recommender", "widened"]


@dataclass(frozen=True)
class Query:
    """Who asks: its phrase vectors, its whole text (for TF-IDF), its kind, and where it is.

    `partners` are a city's partner cities (for an organisation: its home city's), which the
    learned ranker's `partner_city` feature looks at.
    """

    vectors: ProfileVectors
    text: str
    kind: Kind
    key: str | None = None  # a stored profile: its TF-IDF row is reused instead of transforming text
    place: Place | None = None
    partners: frozenset[str] = frozenset()


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
    handset: float | None = None  # the hand-set score (0.8 dense + 0.2 lexical), beside a learned one
    features: dict[str, float] = field(default_factory=dict)  # the learned ranker's raw inputs
    contributions: dict[str, float] = field(default_factory=dict)  # each feature's share of the logit


@dataclass(frozen=True)
class PreparedWrite:
    """A write's new TF-IDF rows and usual scores, made before it is applied (`Recommender.prepare_write`)."""

    entries: tuple[tuple[str, ProfileVectors, ProfileMeta, Place, str], ...]
    removed: tuple[str, ...]
    lexical: LexicalModel  # the TF-IDF space the rows were made in
    lexical_rows: sparse.csr_matrix | None
    usual: UsualScores | None  # the usual scores the tables were prepared against, if fitted
    usual_tables: UsualTables | None  # None: the write changes the askers, `settled_usual` after it


class Recommender:
    """Scores one query against the index: the same path serves the API, the batch job and evaluation.

    The index returns a pool of the best candidates by dense score (several times k), widened by
    the candidates the learned ranker's place priors favour (organisations of the asking city and
    country, cities sharing a language) so that its top-k is retrieved, not only the dense one.
    The pool is scored by the learned ranker where it has a model for the direction (else by the
    hand-set blend of dense and lexical scores), optionally diversified, and the final k explained.
    """

    def __init__(
        self,
        index: PhraseIndex,
        lexical: LexicalModel,
        tagger: ThemeTagger | None = None,
        params: ScoringParams = ScoringParams(),
        *,
        ranker: LearnedRanker | None = None,
        places: dict[str, Place] | None = None,
        pool_factor: int = 5,
        min_pool: int = 50,
    ) -> None:
        self.index = index
        self.lexical = lexical
        self.tagger = tagger
        self.params = params
        self.ranker = ranker
        self.context = ProfileContext(index, params, tagger, places or {})
        self.pool_factor = pool_factor
        self.min_pool = min_pool
        if ranker is not None and ranker.models:
            _ = self.context.usual  # fitted now, not in the first request

    # ------------------------------------------------------------------ keeping in step with writes

    def prepare_write(
        self, entries: Sequence[tuple[str, ProfileVectors, ProfileMeta, Place, str]], removed: Sequence[str] = ()
    ) -> "PreparedWrite":
        """A write's costly parts, computed while the recommender is only read (others may read it
        meanwhile; no write may land in between): the new profiles' TF-IDF rows and usual scores.

        `entries`: (key, vectors, meta, place, whole text) of profiles added or replaced, distinct
        keys; `removed`: keys to forget. `apply_write` then changes the recommender in a few cheap steps.
        """
        removed = tuple(removed)
        usual = self.context.fitted_usual
        usual_tables = None
        if usual is not None and not usual.asks(removed):
            usual_tables = usual.prepared(self.index, self.params, [(k, v, m) for k, v, m, _, _ in entries])
        return PreparedWrite(
            entries=tuple(entries),
            removed=removed,
            lexical=self.lexical,
            lexical_rows=self.lexical.rows_for([text for *_, text in entries]) if entries else None,
            usual=usual,
            usual_tables=usual_tables,
        )

    def apply_write(self, write: "PreparedWrite") -> bool:
        """Make a prepared write take effect, in O(written) steps (but for the index's occasional
        compaction or refit): what a lock that stops readers should cover. Returns True when the
        usual scores are still to be brought in step: `settled_usual`, then `context.use_usual`."""
        keys = [key for key, *_ in write.entries]
        for key, vectors, meta, _, _ in write.entries:
            self.index.upsert(key, vectors, meta)
        if write.entries:
            if self.lexical is write.lexical:
                self.lexical.put_rows(keys, write.lexical_rows)
            else:  # another TF-IDF space was swapped in meanwhile: its own rows
                self.lexical.update({key: text for key, *_, text in write.entries})
        self.context.add_places({key: place for key, _, _, place, _ in write.entries})
        for key in write.removed:
            self.index.remove(key)
        self.lexical.remove(write.removed)
        self.context.drop_places(write.removed)
        usual = self.context.fitted_usual
        if usual is None:
            return False
        if usual is write.usual and write.usual_tables is not None:
            usual.apply(write.usual_tables)
            usual.remove(self.index, self.params, write.removed)  # none of them an asker: no refit
            return False
        return True

    def settled_usual(self, write: "PreparedWrite") -> UsualScores:
        """The usual scores after an applied write that left them behind (one of its profiles is an
        asker, and the others' scores move too): `update` and `remove` on a copy, reading the index
        only, so readers go on with the scores as they were until the copy is swapped in."""
        usual = self.context.fitted_usual.copy()
        usual.update(self.index, self.params, [key for key, *_ in write.entries])
        usual.remove(self.index, self.params, write.removed)
        return usual

    @property
    def places(self) -> dict[str, Place]:
        return self.context.places

    def learns(self, direction: Direction) -> bool:
        """Whether a learned model scores this direction (its scores are then logistic)."""
        return self.ranker is not None and self.ranker.model_for(direction) is not None

    def with_ranker(self, ranker: LearnedRanker | None) -> "Recommender":
        """The same index, texts and context scored by another ranker (evaluation compares several)."""
        other = copy.copy(self)
        other.ranker = ranker
        return other

    # ------------------------------------------------------------------ suggestions

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
        pool, *wider = self.index.top_k_narrowed(
            query.vectors,
            roles,
            self.params,
            k,
            filt,
            self.prior_filters(query, filt),
            exact=exact,
            pool=self.pool_size(k),
        )
        return self.rank(query, widened(pool, wider), k, diversity=diversity, explained=explained)

    def prior_filters(self, query: Query, filt: CandidateFilter) -> list[CandidateFilter]:
        """Narrower filters whose best candidates join the dense pool: those the place priors favour.

        A city's organisations and its country's (an organisation's: its country's cities); a
        city's candidate cities in countries that share one of its official languages. Only where a
        learned model weighs these priors, and only when the request does not narrow the country.
        """
        direction = direction_of(query.kind, Kind(filt.kind))
        if self.ranker is None or self.ranker.model_for(direction) is None or query.place is None:
            return []
        if filt.country is not None or filt.countries is not None:
            return []
        here = query.place
        if direction == (Kind.CITY, Kind.CITY):
            countries = self.context.countries_sharing_a_language(here)
            return [replace(filt, countries=countries)] if countries else []
        wider = [replace(filt, country=here.country)]
        if direction == (Kind.CITY, Kind.ORGANISATION) and query.key is not None and filt.city is None:
            wider.append(replace(filt, city=query.key))
        return wider

    def pool_size(self, k: int) -> int:
        """How many candidates by dense score are re-ranked for the final k."""
        return max(k * self.pool_factor, self.min_pool)

    def rank(
        self, query: Query, pool: list[Scored], k: int, *, diversity: float = 0.0, explained: bool = True
    ) -> list[Suggestion]:
        """The best k of a pool retrieved from this index: scoring, order, diversity, reasons.

        `suggest` calls it after `index.top_k`; the batch job calls `rank_many` with pools it
        retrieved itself. Every key of the pool must be in the index and of one kind, the target.
        """
        return self.rank_many([query], [pool], k, diversity=diversity, explained=explained)[0]

    def rank_many(
        self,
        queries: Sequence[Query],
        pools: Sequence[list[Scored]],
        k: int,
        *,
        diversity: float = 0.0,
        explained: bool = True,
    ) -> list[list[Suggestion]]:
        """`rank` of each query with its own pool, a block at a time: the batch's hundreds of queries
        share one lexical pass and one explanation pass, which per query cost more than scoring.

        The queries are of one kind and the pools' keys of one kind, the target.
        """
        if k <= 0:
            return [[] for _ in queries]
        keys = [[s.key for s in pool] for pool in pools]
        overlap, lexical = self._lexical(queries, keys)
        dense = np.array([s.dense for pool in pools for s in pool], dtype=np.float32)
        handset = hybrid(dense, lexical, self.params)
        bounds = np.concatenate(([0], np.cumsum([len(pool) for pool in pools]))).tolist()
        target = next((self.index.meta_of(pool[0]).kind for pool in keys if pool), None)
        direction = direction_of(queries[0].kind, Kind(target)) if queries and target else None
        model = self.ranker.model_for(direction) if self.ranker is not None else None
        scores = handset.astype(np.float64)
        raw: list[np.ndarray | None] = [None] * len(queries)
        parts: list[np.ndarray | None] = [None] * len(queries)
        if model is not None:
            for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
                if a == b:
                    continue
                raw[i] = self.candidate_features(direction, queries[i], keys[i], dense[a:b], lexical[a:b])
                parts[i] = model.contributions(direction, raw[i])
                scores[a:b] = model.scores(direction, raw[i], parts[i])
        picks = [
            self._best_positions(keys[i], scores[a:b], k, diversity) for i, (a, b) in enumerate(zip(bounds, bounds[1:]))
        ]
        chosen = [[bounds[i] + j for j in pick] for i, pick in enumerate(picks)]  # as pairs of the overlap
        if explained and any(picks):
            reasons = self._reasons(queries, [[keys[i][j] for j in pick] for i, pick in enumerate(picks)])
            terms = iter(
                self.lexical.pair_shared_terms(
                    overlap, np.array([p for pairs in chosen for p in pairs], dtype=np.int64)
                )
            )
        else:
            reasons, terms = [[None] * len(pick) for pick in picks], repeat(None)
        names = FEATURES.get(direction, ()) if model is not None else ()
        out = []
        for i, (pick, pairs) in enumerate(zip(picks, chosen)):
            row = []
            for j, p, why in zip(pick, pairs, reasons[i]):
                learned = {}
                if raw[i] is not None:
                    learned = {
                        "features": {n: round(float(v), 6) for n, v in zip(names, raw[i][j])},
                        "contributions": {n: round(float(v), 6) for n, v in zip(names, parts[i][j])},
                        "handset": round(float(handset[p]), 6),
                    }
                row.append(_suggestion(pools[i][j], float(scores[p]), float(lexical[p]), why, next(terms), **learned))
            out.append(row)
        return out

    def candidate_table(self, query: Query, filt: CandidateFilter) -> tuple[list[str], np.ndarray, np.ndarray | None]:
        """Every candidate the filter allows, scored exactly as `suggest` scores its pool: keys (by
        dense score), hand-set scores and, where a learned direction exists, the raw features.

        Evaluation and training rank whole candidate lists with this, so what they measure and learn
        from is what the API serves.
        """
        target = Kind(filt.kind)
        roles = direction_roles(query.kind, target)
        n = len(self.index.allowed(filt))
        pool = self.index.top_k(query.vectors, roles, self.params, n, filt, exact=True, pool=n)
        keys = [s.key for s in pool]
        if not keys:
            return [], np.zeros(0), None
        _, lexical = self._lexical([query], [keys])
        dense = np.array([s.dense for s in pool], dtype=np.float32)
        handset = hybrid(dense, lexical, self.params).astype(np.float64)
        direction = direction_of(query.kind, target)
        raw = self.candidate_features(direction, query, keys, dense, lexical) if direction is not None else None
        return keys, handset, raw

    def candidate_features(
        self, direction: Direction, query: Query, keys: Sequence[str], dense: np.ndarray, lexical: np.ndarray
    ) -> np.ndarray:
        """The learned ranker's raw features of `query` with each stored candidate (`matching.features`)."""
        return self.context.features(
            direction,
            key=query.key,
            vectors=query.vectors,
            place=query.place,
            partners=query.partners,
            candidates=keys,
            dense=dense,
            lexical=lexical,
        )

    def _lexical(self, queries: Sequence[Query], keys: Sequence[Sequence[str]]) -> tuple[TermOverlap, np.ndarray]:
        """The terms each query shares with each of its keys, and their TF-IDF cosines, in one pass."""
        query_of = np.repeat(np.arange(len(queries)), [len(k) for k in keys])
        query_rows = self.lexical.query_rows([q.key for q in queries], [q.text for q in queries])
        overlap = self.lexical.overlap(query_rows, query_of, [key for pool_keys in keys for key in pool_keys])
        return overlap, self.lexical.pair_similarity(overlap)

    def _best_positions(self, keys: list[str], scores: np.ndarray, k: int, diversity: float) -> list[int]:
        """The positions in a pool of its best k, in order: by score, ties by key, or diversified."""
        # ties broken by id so equal inputs give equal answers
        rounded = [-round(score, 6) for score in scores.tolist()]
        order = sorted(range(len(keys)), key=lambda i: (rounded[i], keys[i]))
        if diversity <= 0 or not order:
            return order[:k]
        centroids = np.stack([_centroid(self.index.vectors_of(keys[i])) for i in order])
        picked = mmr_order(scores[order], centroids, k, diversity)
        return [order[i] for i in picked]

    def _reasons(self, queries: Sequence[Query], keys: list[list[str]]) -> list[list[Explanation]]:
        """The phrase pairs and shared themes of each query with each of its suggested keys, found together."""
        target = next(pool[0] for pool in keys if pool)
        roles = explanation_roles(queries[0].kind, Kind(self.index.meta_of(target).kind))
        # a key suggested to several queries is copied out once, and its themes found once
        vectors = {key: self.index.vectors_of(key) for pool in keys for key in pool}
        candidates = [[vectors[key] for key in pool] for pool in keys]
        threshold = self.ranker.match_threshold if self.ranker is not None else 0.0
        return explain_block(
            [q.vectors for q in queries], candidates, roles, self.params, self.tagger, close_at=threshold
        )

    def pair_scores(self, rows: list[str], cols: list[str], *, block_rows: int = 16) -> np.ndarray:
        """The city ↔ city score of every stored row profile with every column profile.

        The same score the suggestions carry, computed for a whole cohort. Hand-set: the columns'
        phrases are gathered once and the rows scored against them a block at a time. Learned: each
        row ranks the columns and each column the rows, as each would ask; a pair's score is the
        logistic of the mean of its two sums of contributions, the same whichever side asks.
        """
        if not rows or not cols:
            return np.zeros((len(rows), len(cols)), dtype=np.float32)
        dense = self._dense_pair_scores(rows, cols, block_rows)
        lexical = np.asarray((self.lexical.matrix(rows) @ self.lexical.matrix(cols).T).toarray(), dtype=np.float32)
        model = self.ranker.model_for((Kind.CITY, Kind.CITY)) if self.ranker is not None else None
        if model is None:
            return hybrid(dense, lexical, self.params)
        logits = np.zeros((len(rows), len(cols)))
        direction = (Kind.CITY, Kind.CITY)
        for i, row in enumerate(rows):
            query = self.stored_query(row)
            logits[i] += model.contributions(
                direction, self.candidate_features(direction, query, cols, dense[i], lexical[i])
            ).sum(axis=1)
        for j, col in enumerate(cols):
            query = self.stored_query(col)
            logits[:, j] += model.contributions(
                direction, self.candidate_features(direction, query, rows, dense[:, j], lexical[:, j])
            ).sum(axis=1)
        return (1.0 / (1.0 + np.exp(-logits / 2))).astype(np.float32)

    def stored_query(self, key: str) -> Query:
        """A stored profile as a query (its text is only needed through its TF-IDF row)."""
        return Query(
            self.index.vectors_of(key), "", Kind(self.index.meta_of(key).kind), key=key, place=self.places.get(key)
        )

    def _dense_pair_scores(self, rows: list[str], cols: list[str], block_rows: int) -> np.ndarray:
        out = np.zeros((len(rows), len(cols)), dtype=np.float32)
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
                forward, backward = coverage_block(
                    sims[at : at + len(q)], q.roles, col_roles, offsets, roles, self.params
                )
                out[start + i] = fuse_directions(forward, backward, self.params.fusion)
                at += len(q)
        return out


def _suggestion(
    scored: Scored,
    score: float,
    lexical: float,
    why: Explanation | None = None,
    terms: list[str] | None = None,
    *,
    handset: float | None = None,
    features: dict[str, float] | None = None,
    contributions: dict[str, float] | None = None,
) -> Suggestion:
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
        handset=handset,
        features=features or {},
        contributions=contributions or {},
    )


def widened(pool: list[Scored], others: Iterable[list[Scored]]) -> list[Scored]:
    """`pool` followed by the candidates of `others` it does not hold yet, in their order."""
    seen = {s.key for s in pool}
    out = list(pool)
    for other in others:
        for scored in other:
            if scored.key not in seen:
                seen.add(scored.key)
                out.append(scored)
    return out


def _centroid(vectors: ProfileVectors) -> np.ndarray:
    c = vectors.vectors.mean(axis=0)
    return c / max(float(np.linalg.norm(c)), 1e-9)
