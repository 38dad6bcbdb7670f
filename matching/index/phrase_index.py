"""The live in-memory index of every profile's phrase vectors, and top-k candidate retrieval.

`PhraseIndex` composes the stages, as faiss's `IndexRefine` composes a coarse index and a
refinement: storage (`storage`), candidate filters (`filters`), the cascade's trained quantisers
and stages (`quantisers`, `cascade`) and exact scoring (`exact`). Retrieval is exhaustive below
`exact_below_rows` candidate phrases, and whenever asked; above it, the cascade bounds the work.

Concurrency: reads may run concurrently with each other, but a write must exclude every read and
write (a readers-writer lock, or simply one lock: a read takes ~10 ms, a write ~0.2 ms, except the
occasional compaction, ~0.5 s at 100k profiles, and the refit when the index has grown fourfold).
A process serving requests should run BLAS on one thread (the service does, `service.app`): the
products are small, a second BLAS thread saves little and then spins after each one, which
doubled CPU time and tail latency on two shared cores.
For the nightly batch, see `matching.presence` and `top_k_among`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from matching.index.cascade import RESCORE_SIZE, Cascade, rise_margin
from matching.index.exact import Scored, best, dense, exact_scores, query_rows
from matching.index.storage import PhraseStorage
from matching.scoring import DirectionRoles, ScoringParams
from matching.types import CandidateFilter, ProfileMeta
from matching.vectors import ProfileVectors, StackedPhrases

__all__ = ["PhraseIndex"]


class PhraseIndex:
    """All profiles' phrase vectors in contiguous float32 storage, with filtered top-k retrieval.

    Parameters
    ----------
    dim : width of the phrase vectors.
    exact_below_rows : below this many allowed candidate phrases a request is scored
        exhaustively; the cascade's state is fitted once the index holds this many phrases.
    shortlist_size : profiles kept by the coded late interaction (at least 50·k). The rescored
        pool must hold the exact top-50, not only the top-10: the whole pool is re-ranked by the
        learned ranker, so the deepest member of the exhaustive pool sets the size, which
        `benchmarks/suggestions.py` checks (final suggestions identical to exhaustive scoring).
    rescore_size : profiles kept by the reduced late interaction and rescored exactly, at least
        (at least 6·k); candidates beyond these whose reduced score could still reach the pool
        are rescored too, up to 8× as many (`Cascade.rescored`): near ties are rescored deeper,
        clear leads no deeper.
    reduced_dim : width of the PCA space of the reduced late interaction (stored as int8).
    n_codes : k-means codes per phrase role of the coded late interaction.
    block_rows : candidate phrases per block when scoring exhaustively; bounds memory.
    compact_ratio : compact once this share of the stored phrases is dead.
    fit_sample : phrases sampled to fit the PCA and the codes.
    random_state : seed of that sample and of the k-means.
    """

    def __init__(
        self,
        dim: int,
        *,
        exact_below_rows: int = 20_000,
        shortlist_size: int = 2_000,
        rescore_size: int = RESCORE_SIZE,
        reduced_dim: int = 128,
        n_codes: int = 2_048,
        block_rows: int = 16_384,
        compact_ratio: float = 0.25,
        fit_sample: int = 65_536,
        random_state: int = 0,
    ) -> None:
        self.dim = dim
        self.exact_below_rows = exact_below_rows
        self.shortlist_size = shortlist_size
        self.rescore_size = rescore_size
        self.reduced_dim = reduced_dim
        self.n_codes = n_codes
        self.block_rows = block_rows
        self.compact_ratio = compact_ratio
        self.fit_sample = fit_sample
        self.random_state = random_state
        self._reset(row_capacity=0, slot_capacity=0)

    def _reset(self, *, row_capacity: int, slot_capacity: int) -> None:
        self._storage = PhraseStorage(self.dim, row_capacity=row_capacity, slot_capacity=slot_capacity)
        self._cascade = Cascade(
            self._storage,
            shortlist_size=self.shortlist_size,
            rescore_size=self.rescore_size,
            reduced_dim=self.reduced_dim,
            n_codes=self.n_codes,
            block_rows=self.block_rows,
            fit_sample=self.fit_sample,
            random_state=self.random_state,
        )

    # ------------------------------------------------------------------ writes

    def _append(self, keys: Sequence[str], profiles: Sequence[ProfileVectors], metas: Sequence[ProfileMeta]) -> None:
        row0, row = self._storage.append(keys, profiles, metas)
        live_rows, cascade = self._storage.live_rows, self._cascade
        if not cascade.fitted and live_rows >= max(self.exact_below_rows, 1):
            cascade.fit()
        elif cascade.fitted and live_rows >= 4 * cascade.fitted_rows_:
            cascade.fit()  # refit as the index outgrows its sample: amortised O(1) per phrase
        elif cascade.fitted:
            cascade.encode_rows(row0, row)

    def compact(self) -> None:
        """Drop dead phrases and slots, in place; runs by itself once `compact_ratio` is dead."""
        self._storage.compact()

    def _maybe_compact(self) -> None:
        if self._storage.dead_rows_ > self.compact_ratio * max(self._storage.n_rows_, 1):
            self.compact()

    def bulk_load(self, entries: Iterable[tuple[str, ProfileVectors, ProfileMeta]]) -> PhraseIndex:
        """Replace the whole index with these profiles (a later duplicate key wins); returns self."""
        latest: dict[str, tuple[ProfileVectors, ProfileMeta]] = {}
        for key, vectors, meta in entries:
            latest[key] = (vectors, meta)
        rows = sum(len(v) for v, _ in latest.values())
        self._reset(row_capacity=rows + rows // 8, slot_capacity=len(latest) + len(latest) // 8)
        # ordered by kind then bloc, a filter's candidates are a few long runs of slots and rows,
        # read in place rather than gathered
        keys = sorted(latest, key=lambda k: (latest[k][1].kind, latest[k][1].bloc, latest[k][1].country, k))
        self._append(keys, [latest[k][0] for k in keys], [latest[k][1] for k in keys])
        return self

    def upsert(self, key: str, vectors: ProfileVectors, meta: ProfileMeta) -> None:
        """Add a profile, or replace its vectors and metadata."""
        self._check(vectors)
        old = self._storage.slot_of_.get(key)
        if old is not None:
            self._storage.tombstone(old)
        self._append([key], [vectors], [meta])
        self._maybe_compact()

    def remove(self, key: str) -> None:
        """Forget a profile; a key that is not there is ignored."""
        slot = self._storage.slot_of_.get(key)
        if slot is not None:
            self._storage.tombstone(slot)
            self._maybe_compact()

    def _check(self, profile: ProfileVectors) -> None:
        if profile.vectors.shape[1] != self.dim:
            raise ValueError(f"expected {self.dim}-d vectors, got {profile.vectors.shape[1]}-d")

    # ------------------------------------------------------------------ what is stored

    def __len__(self) -> int:
        return len(self._storage.slot_of_)

    def __contains__(self, key: object) -> bool:
        return key in self._storage.slot_of_

    def keys(self) -> Iterator[str]:
        return iter(list(self._storage.slot_of_))

    def vectors_of(self, key: str) -> ProfileVectors:
        """A copy of the stored vectors of `key` (KeyError if absent)."""
        return self._storage.vectors_of(key)

    def stacked_of(self, keys: Sequence[str]) -> StackedPhrases:
        """The stored phrases of `keys`, one after another, taken in one pass (`vectors_of` of
        each, stacked, without a copy per profile)."""
        slots = np.fromiter((self._storage.slot_of_[key] for key in keys), dtype=np.int64, count=len(keys))
        return self._storage.phrases_of(slots)

    def meta_of(self, key: str) -> ProfileMeta:
        """The stored metadata of `key` (KeyError if absent)."""
        return self._storage.metas_[self._storage.slot_of_[key]]

    def slot(self, key: str) -> int:
        """Where `key` is stored (KeyError if absent); valid until the next write."""
        return self._storage.slot_of_[key]

    def keys_at(self, slots: np.ndarray) -> list[str]:
        """The keys stored at these (live) slots."""
        return self._storage.keys_at(slots)

    def phrases_at(self, slots: np.ndarray) -> StackedPhrases:
        """The phrases stored at these slots, one slot after another."""
        return self._storage.phrases_of(slots)

    def lengths_at(self, slots: np.ndarray) -> np.ndarray:
        """How many phrases each of these slots holds (int64)."""
        return self._storage.length_[slots].astype(np.int64)

    @property
    def nbytes(self) -> int:
        """Bytes held in the index's arrays: storage, filter codes and the cascade's fitted state."""
        parts = (self._storage, self._storage.filters_, self._cascade, self._cascade.pca_, self._cascade.codebook_)
        arrays = [a for part in parts for a in vars(part).values() if isinstance(a, np.ndarray)]
        arrays += [*self._storage.rows_.values(), *self._storage.filters_.columns_.values()]
        return sum(a.nbytes for a in arrays)

    @property
    def fitted(self) -> bool:
        """Whether the cascade's quantisers are fitted (the index has reached `exact_below_rows`)."""
        return self._cascade.fitted

    @property
    def code_vectors(self) -> np.ndarray | None:
        """(codes, dim): the mean phrase of each k-means code, once fitted."""
        return self._cascade.code_vectors_

    def codes_at(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The phrases of these slots as codes (role · n_codes + code), their roles, and each slot's
        phrase count; the index must be fitted."""
        return self._cascade.codes_of(slots)

    # ------------------------------------------------------------------ filters

    def allowed_mask(self, filt: CandidateFilter) -> np.ndarray:
        """Over all slots: True where the filter lets a profile through (live and with phrases)."""
        return self._storage.allowed([filt], slice(0, self._storage.n_slots_))[0]

    def allowed_among(self, filters: Sequence[CandidateFilter], slots: np.ndarray) -> np.ndarray:
        """(filters × slots) bool: each filter's `allowed_mask` at the given (ascending) slots, all at once.

        The batch asks this for a block of 256 filters over ~60k candidates: one broadcast
        comparison per restricting field instead of a full-index mask per filter and a gather.
        """
        return self._storage.allowed(filters, slots)

    def allowed(self, filt: CandidateFilter) -> np.ndarray:
        """The slots, ascending, that a filter lets through (live and with phrases)."""
        return np.flatnonzero(self.allowed_mask(filt))

    # ------------------------------------------------------------------ retrieval

    def _uses_cascade(self, slots: np.ndarray, exact: bool) -> bool:
        return not exact and self._cascade.fitted and int(self._storage.length_[slots].sum()) >= self.exact_below_rows

    def _exact(self, q, q_roles, slots, roles, params) -> tuple[np.ndarray, np.ndarray | None]:
        return exact_scores(self._storage, q, q_roles, slots, roles, params, self.block_rows)

    def top_k(
        self,
        query: ProfileVectors,
        roles: DirectionRoles,
        params: ScoringParams,
        k: int,
        filt: CandidateFilter,
        exact: bool = False,
        pool: int = 0,
    ) -> list[Scored]:
        """The best `k` allowed candidates for `query`, by dense desc then key asc.

        Parameters
        ----------
        query : the asking profile's phrases (it need not be stored in the index).
        roles : which phrases need and serve, from `direction_roles(query kind, filt.kind)`.
        params : scoring parameters (description weight and fusion are used here).
        k : how many to return (fewer when fewer candidates are allowed).
        filt : which candidates are allowed.
        exact : score every allowed candidate (the ground truth) instead of the cascade.
        pool : return up to this many (when more than k) from the same work: the cascade's
            stages stay sized for k, and its exactly rescored candidates are all returned, so a
            caller re-ranking the pool (lexical fusion, diversity) pays nothing for a wider one.

        Returns
        -------
        Up to max(k, pool) `Scored`, their scores exact (from `coverage_block`) on either path.
        """
        if k <= 0 or len(query) == 0:
            return []
        self._check(query)
        slots = self.allowed(filt)
        if len(slots) == 0:
            return []
        q, q_roles = query_rows(query, roles)
        if not self._uses_cascade(slots, exact):
            fwd, bwd = self._exact(q, q_roles, slots, roles, params)
            return best(self._storage, slots, fwd, bwd, params, max(k, pool))
        cascade = self._cascade
        shortlist = cascade.shortlist_depth(k)
        coded = (
            cascade.coded_scores(slots, cascade.code_table(q, q_roles, roles, params))
            if len(slots) > shortlist
            else None
        )
        return cascade.shortlisted(slots, coded, shortlist, q, q_roles, roles, params, k, pool)

    def top_k_narrowed(
        self,
        query: ProfileVectors,
        roles: DirectionRoles,
        params: ScoringParams,
        k: int,
        filt: CandidateFilter,
        narrower: Sequence[CandidateFilter],
        exact: bool = False,
        pool: int = 0,
    ) -> list[list[Scored]]:
        """`top_k` of `filt`, then of each narrower filter (what it allows that `filt` allows), from one pass.

        The coded scores the cascade takes of every candidate `filt` allows shortlist each narrower
        filter's candidates too, to the same depth, and each shortlist goes on through the reduced
        and exact stages: a narrower filter's pool is the one the cascade would give it, without
        a coded pass of its own (and, as in the cascade, a small narrower filter is rescored by
        its reduced scores rather than scored exactly throughout). A shallower depth, in
        proportion to the narrower filter's size as if its members were a random sample, lost
        agreement with exhaustive scoring: a country's members are not a random sample of the
        query's candidates. Where the cascade would not take coded scores, each filter is served
        as `top_k` would.
        """
        if k <= 0 or len(query) == 0:
            return [[] for _ in range(1 + len(narrower))]
        self._check(query)
        slots = self.allowed(filt)
        cascade = self._cascade
        shortlist = cascade.shortlist_depth(k)
        if not self._uses_cascade(slots, exact) or len(slots) <= shortlist:
            return [self.top_k(query, roles, params, k, f, exact, pool) for f in (filt, *narrower)]
        q, q_roles = query_rows(query, roles)
        coded = cascade.coded_scores(slots, cascade.code_table(q, q_roles, roles, params))
        out = [cascade.shortlisted(slots, coded, shortlist, q, q_roles, roles, params, k, pool)]
        for f in narrower:
            at = np.flatnonzero(self.allowed_mask(f)[slots])
            out.append(cascade.shortlisted(slots[at], coded[at], shortlist, q, q_roles, roles, params, k, pool))
        return out

    def top_k_among(
        self,
        query: ProfileVectors,
        roles: DirectionRoles,
        params: ScoringParams,
        k: int,
        slots: np.ndarray,
        pool: int = 0,
        rescore: int = 0,
    ) -> list[Scored]:
        """The best max(k, pool) of the given candidate slots (ascending), scored exactly.

        For callers that shortlist candidates themselves (the batch, `matching.presence`): the
        scores are the exact path's, so they equal what `top_k` gives for the same candidates.
        With `rescore`, only the candidates the cascade's last stage would rescore are scored
        exactly (see `Cascade.rescored`, `rescore` is its `first`): the exact cosines, in float64,
        cost several times the reduced ones.
        """
        if k <= 0 or len(query) == 0 or len(slots) == 0:
            return []
        self._check(query)
        q, q_roles = query_rows(query, roles)
        keep = max(k, pool)
        first = max(rescore, keep)
        if rescore and self._cascade.fitted and len(slots) > first:
            reduced = self._cascade.reduced_scores(slots, q, q_roles, roles, params)
            return self._cascade.rescored(slots, reduced, q, q_roles, roles, params, first, keep)
        fwd, bwd = self._exact(q, q_roles, slots, roles, params)
        return best(self._storage, slots, fwd, bwd, params, keep)

    def reaching(
        self,
        query: ProfileVectors,
        roles: DirectionRoles,
        params: ScoringParams,
        slots: np.ndarray,
        known: np.ndarray,
        known_scores: np.ndarray,
        at_least: float,
    ) -> list[Scored]:
        """Those of the given candidate slots (ascending) whose exact score reaches `at_least`, by
        dense desc then key asc, scoring exactly only what the reduced scores cannot rule out.

        `known` are other slots (ascending) whose exact scores are `known_scores`: how far those
        stand above their reduced scores (`rise_margin`, as `Cascade.rescored` takes it) is the rise
        allowed to a candidate's reduced score. Without the cascade every slot is scored exactly.
        """
        if len(query) == 0 or len(slots) == 0:
            return []
        self._check(query)
        q, q_roles = query_rows(query, roles)
        if self._cascade.fitted and len(known):
            rise = known_scores - self._cascade.reduced_scores(known, q, q_roles, roles, params)
            reduced = self._cascade.reduced_scores(slots, q, q_roles, roles, params)
            slots = slots[reduced + rise_margin(rise, len(slots)) >= at_least]
            if not len(slots):
                return []
        fwd, bwd = self._exact(q, q_roles, slots, roles, params)
        found = best(self._storage, slots, fwd, bwd, params, len(slots))
        return [s for s in found if s.dense >= at_least]

    def rescore_first(self, k: int) -> int:
        """How many the cascade's last stage rescores exactly before its margin, for a top-k."""
        return self._cascade.rescore_first(k)

    def dense_scores(
        self, query: ProfileVectors, roles: DirectionRoles, params: ScoringParams, slots: np.ndarray
    ) -> np.ndarray:
        """The dense score of `query` with each of the given (ascending) slots: exact below the
        cascade threshold, else the coded late interaction's approximation (one sparse product).

        For priors that summarise many scores (a candidate's usual score), not for ranking.
        """
        if len(slots) == 0 or len(query) == 0:
            return np.zeros(len(slots), dtype=np.float32)
        self._check(query)
        q, q_roles = query_rows(query, roles)
        if not self._uses_cascade(slots, exact=False):
            fwd, bwd = self._exact(q, q_roles, slots, roles, params)
            return dense(fwd, bwd, params)
        return self._cascade.coded_scores(slots, self._cascade.code_table(q, q_roles, roles, params))
