"""A profile-level shortlist for scoring every profile at once: code presence.

Scoring all N profiles against all candidates with the live cascade costs its coded stage (a pass
over every candidate phrase) N times. Here the per-pair work is one sparse dot product instead:

- a candidate's *presence* of code c is its best weighted cosine, over its serving phrases, to the
  code's (unit) mean phrase: "how well could this candidate serve a need that looks like code c";
- a query's *need histogram* puts 1/|needs| on the code of each of its needs (their codes are the
  index's own k-means codes, already stored per phrase).

Their product replaces each need by its code's centre and keeps the max over the candidate's
phrases, so it approximates forward coverage (mean over needs of the best match) far better than
a product of centroids, which averages a multi-theme profile's themes away: on the 100k benchmark
the exhaustive top-10 lies within the best ~300 by presence for 99 % of queries, where centroid
cosine needed ~8,000. Reciprocal pairs fuse the two directions as the exact score does. The
shortlist is then rescored exactly by the index (`PhraseIndex.top_k_among`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse

from matching.index import PhraseIndex
from matching.scoring import DirectionRoles, ScoringParams, fuse_directions, role_table, serve_weights
from matching.types import CandidateFilter, PhraseRole

__all__ = ["CodePresence", "best_columns"]

_CHUNK_SLOTS = 512  # profiles per step when computing presence: the temporaries stay ~50 MB
_QUERY_CHUNK = 64  # queries per step when shortlisting: each (queries × 60k) temporary stays ~15 MB


class CodePresence:
    """Presence of every candidate of one kind, for one set of serving roles, and shortlists from it.

    Holds a (codes × candidates) float32 matrix: 2,048 codes × 60k candidates is ~0.5 GB, so a batch
    keeps one at a time (see `matching.batch`).
    """

    def __init__(
        self,
        index: PhraseIndex,
        kind: str,
        serves: tuple[PhraseRole, ...],
        params: ScoringParams,
        *,
        allocate: Callable[[tuple[int, int]], np.ndarray] | None = None,
        fill: bool = True,
    ) -> None:
        """With `fill=False` the matrix is left unset for the caller to `fill` part by part, e.g. from
        several processes sharing the memory `allocate` gave (an empty float32 array of a shape)."""
        if not index.fitted:
            raise ValueError("the index has no codes yet: below its cascade threshold, score exhaustively")
        self.index = index
        self.params = params
        self.kind = kind
        self.serves = serves
        centres = index.code_vectors
        self.centres_ = np.ascontiguousarray(centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-9))
        self.candidates_ = index.allowed(CandidateFilter(kind=kind))
        # codes × candidates, so that a sparse histogram times it reads whole contiguous rows
        shape = (self.n_codes, len(self.candidates_))
        self.presence_t_ = allocate(shape) if allocate else np.empty(shape, dtype=np.float32)
        if fill:
            for part in self.parts():
                self.fill(part)
        self._candidate_needs: dict[tuple[PhraseRole, ...], sparse.csr_matrix] = {}

    def parts(self, size: int = 8 * _CHUNK_SLOTS) -> list[slice]:
        """The matrix's columns in parts that `fill` computes independently.

        Whole steps of `presence` (`size` is rounded up to them): its float32 product gives an ulp
        or so different values for a step of another size, on some processors' kernels, and a
        matrix filled part by part must be the one built at once.
        """
        size = -(-size // _CHUNK_SLOTS) * _CHUNK_SLOTS
        return [slice(a, min(a + size, len(self.candidates_))) for a in range(0, len(self.candidates_), size)]

    def fill(self, columns: slice) -> None:
        """Compute the presence of the candidates in these columns of the matrix."""
        self.presence_t_[:, columns] = self.presence(self.candidates_[columns], self.serves).T

    @property
    def n_codes(self) -> int:
        return len(self.centres_)

    def presence(self, slots: np.ndarray, serves: tuple[PhraseRole, ...]) -> np.ndarray:
        """(len(slots) × codes): each profile's best weighted cosine to each code centre."""
        index = self.index
        out = np.empty((len(slots), self.n_codes), dtype=np.float32)
        for a in range(0, len(slots), _CHUNK_SLOTS):
            chunk = slots[a : a + _CHUNK_SLOTS]
            phrases = index.phrases_at(chunk)
            weighted = phrases.vectors * serve_weights(phrases.roles, serves, self.params)[:, None]
            sims = weighted @ self.centres_.T
            out[a : a + len(chunk)] = np.maximum.reduceat(sims, phrases.offsets[:-1], axis=0)
        return out

    def need_histogram(self, slots: np.ndarray, needs: tuple[PhraseRole, ...]) -> sparse.csr_matrix:
        """(len(slots) × codes) sparse: 1/|needs| on the code of each need phrase.

        A profile with no phrase of the need roles counts all its phrases, as `needs_mask` does.
        """
        index = self.index
        all_codes, phrase_roles, lengths = index.codes_at(slots)
        owner = np.repeat(np.arange(len(slots)), lengths)
        wanted = role_table(needs)[phrase_roles]
        has_need = np.bincount(owner, weights=wanted, minlength=len(slots)) > 0
        use = wanted | ~has_need[owner]
        count = np.bincount(owner[use], minlength=len(slots))
        codes = all_codes[use] % self.n_codes
        values = (1.0 / np.maximum(count, 1))[owner[use]].astype(np.float32)
        return sparse.csr_matrix((values, (owner[use], codes)), shape=(len(slots), self.n_codes))

    def approximate_scores(self, query_slots: np.ndarray, roles: DirectionRoles) -> np.ndarray:
        """(queries × candidates) approximate dense score of each query slot against every candidate."""
        forward = np.asarray(self.need_histogram(query_slots, roles.query_needs) @ self.presence_t_)
        np.maximum(forward, 0.0, out=forward)
        if not roles.reciprocal:
            return forward
        query_presence = self._query_presence(query_slots, roles.query_serves)  # (queries × codes)
        needs = self._candidate_needs.get(roles.target_needs)
        if needs is None:
            needs = self._candidate_needs[roles.target_needs] = self.need_histogram(
                self.candidates_, roles.target_needs
            )
        backward = _transposed(np.asarray(needs @ np.ascontiguousarray(query_presence.T)))
        np.maximum(backward, 0.0, out=backward)
        return fuse_directions(forward, backward, self.params.fusion).astype(np.float32, copy=False)

    def _query_presence(self, query_slots: np.ndarray, serves: tuple[PhraseRole, ...]) -> np.ndarray:
        """(queries × codes) presence of the queries: looked up when they are candidates serving the
        same roles (city ↔ city), which saves a product as large as a block's share of the matrix."""
        if serves == self.serves and len(self.candidates_):
            at = np.minimum(np.searchsorted(self.candidates_, query_slots), len(self.candidates_) - 1)
            if np.array_equal(self.candidates_[at], query_slots):
                return np.ascontiguousarray(self.presence_t_[:, at].T)
        return self.presence(query_slots, serves)

    def shortlists(
        self,
        query_slots: np.ndarray,
        roles: DirectionRoles,
        allowed: np.ndarray,
        size: int,
        *,
        also: Sequence[np.ndarray] = (),
        also_size: int = 0,
    ) -> tuple[list[np.ndarray], list[list[np.ndarray]], list[np.ndarray]]:
        """Per query, ascending, the `size` allowed candidates of best approximate score (all if fewer),
        and their approximate scores; for each of the `also` masks, the `also_size` best it allows
        (none where a row allows none).

        `allowed` is (queries × `candidates_`) bool: each query's filter, as `PhraseIndex.allowed_among` gives it.
        Scored `_QUERY_CHUNK` queries at a time: a block of 256 city pairings at once held ~250 MB of
        (queries × candidates) temporaries per worker, a quarter of the batch's memory target.
        """
        out: list[np.ndarray] = []
        extras: list[list[np.ndarray]] = [[] for _ in range(len(query_slots))]
        approximations: list[np.ndarray] = []
        for a in range(0, len(query_slots), _QUERY_CHUNK):
            scores = self.approximate_scores(query_slots[a : a + _QUERY_CHUNK], roles)
            for mask in also:
                narrowed = np.where(mask[a : a + _QUERY_CHUNK], scores, -np.inf)
                for i, picked in enumerate(best_columns(narrowed, also_size)):
                    if len(picked):
                        extras[a + i].append(self.candidates_[picked])
            np.putmask(
                scores, ~allowed[a : a + _QUERY_CHUNK], -np.inf
            )  # scores are ≥ 0: −inf is never picked over them
            for row, picked in zip(scores, best_columns(scores, size)):
                out.append(self.candidates_[picked])
                approximations.append(row[picked])
        return out, extras, approximations

    def beyond(
        self,
        query_slot: int,
        roles: DirectionRoles,
        allowed: np.ndarray,
        shortlist: np.ndarray,
        at_least: float,
        limit: int,
    ) -> np.ndarray:
        """Ascending, the allowed candidates outside `shortlist` whose approximate score reaches
        `at_least`: the best `limit` of them (ties to the first)."""
        row = self.approximate_scores(np.array([query_slot]), roles)[0]
        usable = allowed & (row >= at_least)
        usable[np.searchsorted(self.candidates_, shortlist)] = False
        return self.candidates_[_first_best(row, np.flatnonzero(usable), limit)]


def best_columns(scores: np.ndarray, size: int, sample_step: int = 16) -> list[np.ndarray]:
    """Per row, ascending, the columns of its `size` largest finite values (all finite ones if fewer);
    of equal values at the cut, the first columns.

    A full argpartition of 60k scores per query was the shortlist's largest cost. A threshold
    from every `sample_step`-th column, set to let through about twice `size`, leaves a few hundred
    to partition; a row where it lets through too few (a skewed sample) is cut exactly instead.
    """
    thresholds = np.full(len(scores), -np.inf, dtype=scores.dtype)
    if scores.shape[1] > size:
        sample = scores[:, ::sample_step]
        depth = min(sample.shape[1], -(-2 * size // sample_step))
        thresholds = np.partition(sample, sample.shape[1] - depth, axis=1)[:, sample.shape[1] - depth]
    out = []
    for row, threshold in zip(scores, thresholds):
        passing = np.flatnonzero(row >= threshold) if np.isfinite(threshold) else np.zeros(0, dtype=np.int64)
        if len(passing) < size:
            passing = np.flatnonzero(np.isfinite(row))
        out.append(_first_best(row, passing, size))
    return out


def _first_best(row: np.ndarray, columns: np.ndarray, size: int) -> np.ndarray:
    """The `size` best of the ascending `columns` of row, ascending; ties at the cut go to the first."""
    if len(columns) <= size:
        return columns
    values = row[columns]
    cut = np.partition(values, len(values) - size)[len(values) - size]
    above = values > cut
    tied = np.flatnonzero(values == cut)[: size - int(above.sum())]
    above[tied] = True
    return columns[above]


def _transposed(a: np.ndarray, tile: int = 64) -> np.ndarray:
    """a.T in C order, copied a tile of rows at a time.

    Fusing a C-ordered block with a transposed view strides across memory: 190 ms for 256 × 60k
    pairs, against 30 ms for this copy plus 35 ms for the fusion. A plain copy of the view
    (np.ascontiguousarray) takes 75 ms; tiles of 64 rows stay in cache.
    """
    out = np.empty((a.shape[1], a.shape[0]), dtype=a.dtype)
    for i in range(0, a.shape[0], tile):
        out[:, i : i + tile] = a[i : i + tile].T
    return out
