"""The live in-memory index of every profile's phrase vectors, and top-k candidate retrieval.

Storage is one contiguous float32 matrix of phrase rows with each profile's rows kept together
(a *slot*), plus per-slot metadata as small integer codes so filters are vectorised. Writes append
a new slot and tombstone the old one; the matrix grows by doubling and is compacted once enough of
it is dead, so a write never copies the whole index.

Retrieval is exhaustive below `exact_below_rows` candidate phrases (and whenever asked). Above it,
a cascade keeps the work per request bounded, as measured in PERFORMANCE.md:

1. *shortlist*: every allowed profile is scored by a profile-level summary of both directions
   (weighted centroids of needs and of serving phrases, in a PCA-reduced space) and the best
   `shortlist_size` are kept;
2. *approximate late interaction*: the shortlisted profiles' phrases, in the reduced space, are
   scored with the real `coverage_block`, and the best `rescore_size` are kept;
3. *exact rescoring*: those are scored with full vectors, exactly as the exhaustive path does.

The index is not thread-safe: the owner serialises writes against reads (one lock is enough;
reads are ~10 ms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

import numpy as np
from scipy import sparse

from matching.scoring import (
    DirectionRoles,
    Kind,
    ScoringParams,
    coverage_block,
    fuse_directions,
    needs_mask,
    serve_weights,
)
from matching.vectors import PhraseRole, ProfileVectors

__all__ = ["CandidateFilter", "PhraseIndex", "ProfileMeta", "Scored"]

_KINDS = (Kind.CITY.value, Kind.ORGANISATION.value)
_N_ROLES = len(PhraseRole)


@dataclass(frozen=True)
class ProfileMeta:
    """What a candidate filter can ask about a profile."""

    kind: str  # "city" | "organisation"
    bloc: str
    country: str
    org_type: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, not {self.kind!r}")


@dataclass(frozen=True)
class CandidateFilter:
    """Which profiles may be suggested: the target kind, and optional restrictions.

    `exclude_bloc` is how city pairings cross blocs: the caller passes the query's own bloc.
    `exclude_keys` holds the query itself, its current partners and explicit exclusions.
    """

    kind: str
    bloc: str | None = None
    exclude_bloc: str | None = None
    country: str | None = None
    org_type: str | None = None
    exclude_keys: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, not {self.kind!r}")


@dataclass(frozen=True)
class Scored:
    """One suggestion: `dense` is the fused score when reciprocal, else the forward coverage."""

    key: str
    dense: float
    forward: float
    backward: float | None


class _Codes:
    """Strings to small ints, growing as new values are seen; code 0 means None."""

    def __init__(self) -> None:
        self.code_of: dict[str | None, int] = {None: 0}

    def add(self, value: str | None) -> int:
        code = self.code_of.get(value)
        if code is None:
            code = self.code_of[value] = len(self.code_of)
        return code

    def get(self, value: str | None) -> int:
        """Return the code, or -1 for a value never stored (matches no profile)."""
        return self.code_of.get(value, -1)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenate arange(start, start + length) for each pair, vectorised."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) + np.repeat(starts.astype(np.int64) - offsets, lengths)


def _offsets(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


class PhraseIndex:
    """All profiles' phrase vectors in contiguous float32 storage, with filtered top-k retrieval.

    Parameters
    ----------
    dim : width of the phrase vectors.
    exact_below_rows : below this many allowed candidate phrases a request is scored exhaustively.
    shortlist_size : profiles kept by the profile-level stage of the cascade.
    rescore_size : profiles kept by the approximate late interaction and rescored exactly
        (at least 4·k are kept whatever this says).
    reduced_dim : width of the PCA space of the approximate late interaction.
    summary_dim : width (a prefix of the PCA space) of the profile-level summaries.
    block_rows : candidate phrases per block when scoring exhaustively; bounds memory.
    compact_ratio : compact the storage once this share of its rows is dead.
    fit_sample : phrases sampled to fit the PCA.
    random_state : seed of that sample.
    """

    def __init__(
        self,
        dim: int,
        *,
        exact_below_rows: int = 20_000,
        shortlist_size: int = 6_000,
        rescore_size: int = 300,
        reduced_dim: int = 64,
        summary_dim: int = 64,
        block_rows: int = 32_768,
        compact_ratio: float = 0.25,
        fit_sample: int = 200_000,
        random_state: int = 0,
    ) -> None:
        self.dim = dim
        self.exact_below_rows = exact_below_rows
        self.shortlist_size = shortlist_size
        self.rescore_size = rescore_size
        self.reduced_dim = reduced_dim
        self.summary_dim = summary_dim
        self.block_rows = block_rows
        self.compact_ratio = compact_ratio
        self.fit_sample = fit_sample
        self.random_state = random_state
        self._reset(row_capacity=0, slot_capacity=0)

    # ------------------------------------------------------------------ storage

    def _reset(self, *, row_capacity: int, slot_capacity: int) -> None:
        self.vectors_ = np.empty((row_capacity, self.dim), dtype=np.float32)
        self.roles_ = np.empty(row_capacity, dtype=np.int8)
        self.n_rows_ = 0
        self.dead_rows_ = 0
        self.start_ = np.empty(slot_capacity, dtype=np.int64)
        self.length_ = np.empty(slot_capacity, dtype=np.int32)
        self.live_ = np.zeros(slot_capacity, dtype=bool)
        self.kind_ = np.empty(slot_capacity, dtype=np.int8)
        self.bloc_ = np.empty(slot_capacity, dtype=np.int16)
        self.country_ = np.empty(slot_capacity, dtype=np.int16)
        self.org_type_ = np.empty(slot_capacity, dtype=np.int16)
        self.n_slots_ = 0
        self.keys_: list[str | None] = []  # slot → key, None once tombstoned
        self.texts_: list[tuple[str, ...]] = []
        self.metas_: list[ProfileMeta | None] = []
        self.slot_of_: dict[str, int] = {}
        self.bloc_codes_ = _Codes()
        self.country_codes_ = _Codes()
        self.org_type_codes_ = _Codes()
        # the reduced (PCA) state exists once the index is large enough to need the cascade
        self.components_: np.ndarray | None = None
        self.fitted_rows_ = 0
        self.reduced_ = np.empty((row_capacity, 0), dtype=np.float32)
        self.centroids_ = np.empty((slot_capacity, _N_ROLES, 0), dtype=np.float32)
        self.role_counts_ = np.empty((slot_capacity, _N_ROLES), dtype=np.float32)

    def _ensure_capacity(self, rows: int, slots: int) -> None:
        """Grow storage by doubling, so appends cost amortised O(1) per row."""
        need_rows = self.n_rows_ + rows
        if need_rows > len(self.vectors_):
            cap = max(need_rows, 2 * len(self.vectors_), 1024)
            self.vectors_ = _grown(self.vectors_, cap, self.n_rows_)
            self.roles_ = _grown(self.roles_, cap, self.n_rows_)
            if self.components_ is not None:
                self.reduced_ = _grown(self.reduced_, cap, self.n_rows_)
        need_slots = self.n_slots_ + slots
        if need_slots > len(self.start_):
            cap = max(need_slots, 2 * len(self.start_), 256)
            n = self.n_slots_
            for name in ("start_", "length_", "kind_", "bloc_", "country_", "org_type_", "role_counts_"):
                setattr(self, name, _grown(getattr(self, name), cap, n))
            self.live_ = _grown(self.live_, cap, n, fill=False)
            if self.components_ is not None:
                self.centroids_ = _grown(self.centroids_, cap, n)

    def _append(
        self, keys: Sequence[str], profiles: Sequence[ProfileVectors], metas: Sequence[ProfileMeta]
    ) -> None:
        """Append new slots for these profiles (keys must not be live), vectorised over them."""
        lengths = np.fromiter((len(p) for p in profiles), dtype=np.int64, count=len(profiles))
        for p in profiles:
            if len(p) and p.vectors.shape[1] != self.dim:
                raise ValueError(f"expected {self.dim}-d vectors, got {p.vectors.shape[1]}")
        self._ensure_capacity(int(lengths.sum()), len(keys))
        row0, slot0 = self.n_rows_, self.n_slots_
        n = len(keys)
        slots = slice(slot0, slot0 + n)
        self.start_[slots] = row0 + np.cumsum(lengths) - lengths
        self.length_[slots] = lengths
        self.live_[slots] = True
        self.kind_[slots] = [_KINDS.index(m.kind) for m in metas]
        self.bloc_[slots] = [self.bloc_codes_.add(m.bloc) for m in metas]
        self.country_[slots] = [self.country_codes_.add(m.country) for m in metas]
        self.org_type_[slots] = [self.org_type_codes_.add(m.org_type) for m in metas]
        row = row0
        for p in profiles:
            stop = row + len(p)
            self.vectors_[row:stop] = p.vectors
            self.roles_[row:stop] = p.roles
            row = stop
        self.n_rows_ = row
        self.n_slots_ = slot0 + n
        for i, (key, p, meta) in enumerate(zip(keys, profiles, metas)):
            self.slot_of_[key] = slot0 + i
            self.keys_.append(key)
            self.texts_.append(p.texts)
            self.metas_.append(meta)
        if self.components_ is not None:
            self._reduce_rows(row0, row)
            self._summarise_slots(slot0, slot0 + n)
        elif self.n_rows_ - self.dead_rows_ >= self.exact_below_rows:
            self._fit_reduced()

    def _tombstone(self, slot: int) -> None:
        self.live_[slot] = False
        self.dead_rows_ += int(self.length_[slot])
        del self.slot_of_[self.keys_[slot]]
        self.keys_[slot] = None
        self.texts_[slot] = ()
        self.metas_[slot] = None

    def _maybe_compact(self) -> None:
        if self.dead_rows_ > self.compact_ratio * max(self.n_rows_, 1):
            self.compact()

    def compact(self) -> None:
        """Drop dead rows and slots in place (O(size of the index); automatic when worthwhile)."""
        n = self.n_slots_
        live = np.flatnonzero(self.live_[:n])
        lengths = self.length_[live].astype(np.int64)
        rows = _ranges(self.start_[live], lengths)
        for name in ("vectors_", "roles_") + (("reduced_",) if self.components_ is not None else ()):
            _move_down(getattr(self, name), rows)
        for name in ("length_", "kind_", "bloc_", "country_", "org_type_", "role_counts_") + (
            ("centroids_",) if self.components_ is not None else ()
        ):
            _move_down(getattr(self, name), live)
        self.start_[: len(live)] = _offsets(lengths)[:-1]
        self.live_[: len(live)] = True
        self.live_[len(live) :] = False
        self.n_rows_ = len(rows)
        self.dead_rows_ = 0
        self.n_slots_ = len(live)
        self.keys_ = [self.keys_[s] for s in live]
        self.texts_ = [self.texts_[s] for s in live]
        self.metas_ = [self.metas_[s] for s in live]
        self.slot_of_ = {k: i for i, k in enumerate(self.keys_)}
        if self.components_ is not None and self.n_rows_ >= 4 * self.fitted_rows_:
            self._fit_reduced()

    # ------------------------------------------------------------------ reduced state

    def _fit_reduced(self) -> None:
        """Fit the PCA (uncentred, so dot products are approximated) and reduce every row."""
        n = self.n_slots_
        live_rows = _ranges(self.start_[:n][self.live_[:n]], self.length_[:n][self.live_[:n]].astype(np.int64))
        rng = np.random.default_rng(self.random_state)
        if len(live_rows) > self.fit_sample:
            live_rows = np.sort(rng.choice(live_rows, self.fit_sample, replace=False))
        x = self.vectors_[live_rows]
        _, eigvecs = np.linalg.eigh((x.T @ x).astype(np.float64))
        width = min(max(self.reduced_dim, self.summary_dim), self.dim)
        self.components_ = np.ascontiguousarray(eigvecs[:, ::-1][:, :width], dtype=np.float32)
        self.fitted_rows_ = self.n_rows_ - self.dead_rows_
        self.reduced_ = np.empty((len(self.vectors_), self.reduced_dim), dtype=np.float32)
        self.centroids_ = np.empty((len(self.start_), _N_ROLES, self.summary_dim), dtype=np.float32)
        self._reduce_rows(0, self.n_rows_)
        self._summarise_slots(0, n)

    def _reduce_rows(self, lo: int, hi: int) -> None:
        step = 262_144
        components = self.components_[:, : self.reduced_dim]
        for a in range(lo, hi, step):
            b = min(hi, a + step)
            np.matmul(self.vectors_[a:b], components, out=self.reduced_[a:b])

    def _summarise_slots(self, lo: int, hi: int) -> None:
        """Per slot and role: the unit centroid of its phrases in the summary space, and their count.

        A role without phrases gets a zero centroid, which scores 0 like an unserving phrase.
        """
        if hi <= lo:
            return
        lengths = self.length_[lo:hi].astype(np.int64)
        rows = _ranges(self.start_[lo:hi], lengths)
        cell = np.repeat(np.arange(hi - lo), lengths) * _N_ROLES + self.roles_[rows]
        n_cells = (hi - lo) * _N_ROLES
        step = 262_144
        components = self.components_[:, : self.summary_dim]
        sums = np.zeros((n_cells, self.summary_dim), dtype=np.float32)
        for a in range(0, len(rows), step):
            part = slice(a, min(a + step, len(rows)))
            member = sparse.csr_matrix(
                (np.ones(part.stop - part.start, dtype=np.float32), (cell[part], np.arange(part.stop - part.start))),
                shape=(n_cells, part.stop - part.start),
            )
            sums += member @ (self.vectors_[rows[part]] @ components)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        sums /= np.maximum(norms, 1e-12)
        self.centroids_[lo:hi] = sums.reshape(hi - lo, _N_ROLES, self.summary_dim)
        self.role_counts_[lo:hi] = np.bincount(cell, minlength=n_cells).reshape(hi - lo, _N_ROLES)

    # ------------------------------------------------------------------ public writes

    def bulk_load(self, entries: Iterable[tuple[str, ProfileVectors, ProfileMeta]]) -> "PhraseIndex":
        """Replace the whole index with these profiles (a later duplicate key wins)."""
        latest: dict[str, tuple[ProfileVectors, ProfileMeta]] = {}
        for key, vectors, meta in entries:
            latest[key] = (vectors, meta)
        rows = sum(len(v) for v, _ in latest.values())
        self._reset(row_capacity=rows + rows // 8, slot_capacity=len(latest) + len(latest) // 8)
        keys = list(latest)
        self._append(keys, [latest[k][0] for k in keys], [latest[k][1] for k in keys])
        return self

    def upsert(self, key: str, vectors: ProfileVectors, meta: ProfileMeta) -> None:
        """Add a profile, or replace its vectors and metadata."""
        old = self.slot_of_.get(key)
        if old is not None:
            self._tombstone(old)
        self._append([key], [vectors], [meta])
        self._maybe_compact()

    def remove(self, key: str) -> None:
        """Forget a profile; a key that is not there is ignored."""
        slot = self.slot_of_.get(key)
        if slot is not None:
            self._tombstone(slot)
            self._maybe_compact()

    # ------------------------------------------------------------------ reads

    def __len__(self) -> int:
        return len(self.slot_of_)

    def __contains__(self, key: object) -> bool:
        return key in self.slot_of_

    def keys(self) -> Iterator[str]:
        return iter(list(self.slot_of_))

    def vectors_of(self, key: str) -> ProfileVectors:
        """Return a copy of the stored vectors of `key` (KeyError if absent)."""
        slot = self.slot_of_[key]
        start, length = int(self.start_[slot]), int(self.length_[slot])
        return ProfileVectors(
            vectors=self.vectors_[start : start + length].copy(),
            roles=self.roles_[start : start + length].copy(),
            texts=self.texts_[slot],
        )

    def meta_of(self, key: str) -> ProfileMeta:
        return self.metas_[self.slot_of_[key]]

    def allowed(self, filt: CandidateFilter) -> np.ndarray:
        """Return the slots a filter lets through (live, with phrases), ascending."""
        n = self.n_slots_
        mask = self.live_[:n] & (self.length_[:n] > 0) & (self.kind_[:n] == _KINDS.index(filt.kind))
        if filt.bloc is not None:
            mask &= self.bloc_[:n] == self.bloc_codes_.get(filt.bloc)
        if filt.exclude_bloc is not None:
            mask &= self.bloc_[:n] != self.bloc_codes_.get(filt.exclude_bloc)
        if filt.country is not None:
            mask &= self.country_[:n] == self.country_codes_.get(filt.country)
        if filt.org_type is not None:
            mask &= self.org_type_[:n] == self.org_type_codes_.get(filt.org_type)
        for key in filt.exclude_keys:
            slot = self.slot_of_.get(key)
            if slot is not None:
                mask[slot] = False
        return np.flatnonzero(mask)

    def top_k(
        self,
        query: ProfileVectors,
        roles: DirectionRoles,
        params: ScoringParams,
        k: int,
        filt: CandidateFilter,
        exact: bool = False,
    ) -> list[Scored]:
        """Return the best `k` allowed candidates for `query`, by dense desc then key asc.

        Parameters
        ----------
        query : the asking profile's phrases (need not be stored in the index).
        roles : which phrases need and serve, from `direction_roles(query kind, filt.kind)`.
        params : scoring parameters (description weight and fusion are used here).
        k : how many to return (fewer when fewer candidates are allowed).
        filt : which candidates are allowed.
        exact : score every allowed candidate (the ground truth) instead of the cascade.
        """
        if k <= 0 or len(query) == 0:
            return []
        slots = self.allowed(filt)
        if len(slots) == 0:
            return []
        q = np.ascontiguousarray(query.vectors, dtype=np.float32)
        rows = int(self.length_[slots].sum())
        if exact or self.components_ is None or rows < self.exact_below_rows:
            fwd, bwd = self._exact_scores(q, query.roles, slots, roles, params)
            return self._best(slots, fwd, bwd, roles, params, k)
        return self._cascade(q, query.roles, slots, roles, params, k)

    def top_k_many(
        self,
        queries: Sequence[tuple[ProfileVectors, DirectionRoles, CandidateFilter]],
        params: ScoringParams,
        k: int,
        exact: bool = False,
    ) -> list[list[Scored]]:
        """Top-k for many queries, one after another: memory stays per-request, never N×N.

        The nightly batch job calls this on slices of profiles (one slice per worker process,
        each holding its own index) and stores each slice's results before the next.
        """
        return [self.top_k(q, r, params, k, f, exact=exact) for q, r, f in queries]

    # ------------------------------------------------------------------ scoring

    def _exact_scores(
        self,
        q: np.ndarray,
        q_roles: np.ndarray,
        slots: np.ndarray,
        roles: DirectionRoles,
        params: ScoringParams,
        vectors: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Coverage of every slot given, in blocks of about `block_rows` phrases."""
        vectors = self.vectors_ if vectors is None else vectors
        lengths = self.length_[slots].astype(np.int64)
        cum = np.cumsum(lengths)
        cuts = np.searchsorted(cum, np.arange(self.block_rows, int(cum[-1]), self.block_rows), side="right")
        bounds = np.unique(np.concatenate(([0], cuts, [len(slots)])))
        fwd = np.empty(len(slots), dtype=np.float32)
        bwd = np.empty(len(slots), dtype=np.float32) if roles.reciprocal else None
        for a, b in zip(bounds[:-1], bounds[1:]):
            rows = _ranges(self.start_[slots[a:b]], lengths[a:b])
            block = vectors[rows]
            sims = q @ block.T
            f, r = coverage_block(sims, q_roles, self.roles_[rows], _offsets(lengths[a:b]), roles, params)
            fwd[a:b] = f
            if bwd is not None:
                bwd[a:b] = r
        return fwd, bwd

    def _best(
        self,
        slots: np.ndarray,
        fwd: np.ndarray,
        bwd: np.ndarray | None,
        roles: DirectionRoles,
        params: ScoringParams,
        k: int,
    ) -> list[Scored]:
        """The k best by dense desc then key asc; ties at the k-th score are all considered."""
        dense = fuse_directions(fwd, bwd, params.fusion) if bwd is not None else fwd
        dense = dense.astype(np.float32)
        if len(dense) > k:
            kth = np.partition(dense, len(dense) - k)[len(dense) - k]
            pick = np.flatnonzero(dense >= kth)
        else:
            pick = np.arange(len(dense))
        keys = self.keys_
        order = sorted(pick.tolist(), key=lambda i: (-float(dense[i]), keys[slots[i]]))[:k]
        return [
            Scored(
                key=keys[slots[i]],
                dense=float(dense[i]),
                forward=float(fwd[i]),
                backward=None if bwd is None else float(bwd[i]),
            )
            for i in order
        ]

    def _cascade(
        self,
        q: np.ndarray,
        q_roles: np.ndarray,
        slots: np.ndarray,
        roles: DirectionRoles,
        params: ScoringParams,
        k: int,
    ) -> list[Scored]:
        """Shortlist by profile summaries, narrow by reduced late interaction, rescore exactly."""
        rescore = max(self.rescore_size, 4 * k)
        shortlist = max(self.shortlist_size, 2 * rescore)
        with _one_blas_thread():
            if len(slots) > shortlist:
                proxy = self._summary_scores(q, q_roles, slots, roles, params)
                slots = np.sort(slots[np.argpartition(proxy, len(proxy) - shortlist)[-shortlist:]])
            if len(slots) > rescore:
                fwd, bwd = self._reduced_scores(q, q_roles, slots, roles, params)
                approx = fuse_directions(fwd, bwd, params.fusion) if bwd is not None else fwd
                slots = np.sort(slots[np.argpartition(approx, len(approx) - rescore)[-rescore:]])
            fwd, bwd = self._exact_scores(q, q_roles, slots, roles, params)
        return self._best(slots, fwd, bwd, roles, params, k)

    def _summary_scores(
        self,
        q: np.ndarray,
        q_roles: np.ndarray,
        slots: np.ndarray,
        roles: DirectionRoles,
        params: ScoringParams,
    ) -> np.ndarray:
        """Late interaction of the query's phrases with each slot's three role centroids.

        Forward: mean over the query's needs of the best weighted cosine to the candidate's
        interest, offer and description centroids. Backward: for each of the candidate's need
        roles, the best weighted cosine of its centroid to any query phrase, averaged by phrase
        count. Centroids (rather than one per profile) keep a profile's separate themes apart,
        which is what the max in the real score rewards.
        """
        need = np.flatnonzero(needs_mask(q_roles, roles.query_needs))
        columns = [q[need]]
        if roles.reciprocal:
            q_serve = serve_weights(q_roles, roles.query_serves, params)
            serving = np.flatnonzero(q_serve > 0)
            columns.append(q[serving] * q_serve[serving, None])
        qd = _padded(np.concatenate(columns) @ self.components_[:, : self.summary_dim])
        d = self.summary_dim
        dots = (self.centroids_[slots].reshape(-1, d) @ qd).reshape(len(slots), _N_ROLES, -1)
        n_need = len(need)
        serve = serve_weights(np.arange(_N_ROLES, dtype=np.int8), roles.target_serves, params)
        fwd = np.zeros((len(slots), n_need), dtype=np.float32)  # the floor an unserving phrase gives
        for role in np.flatnonzero(serve > 0):
            np.maximum(fwd, dots[:, role, :n_need] * serve[role], out=fwd)
        fwd = fwd.mean(axis=1)
        if not roles.reciprocal:
            return fwd
        if len(serving) == 0:
            return np.zeros(len(slots), dtype=np.float32)
        best = dots[:, :, n_need : n_need + len(serving)].max(axis=2)  # (n, roles)
        np.maximum(best, 0.0, out=best)
        counts = self.role_counts_[slots]
        need_counts = counts * np.isin(np.arange(_N_ROLES), roles.target_needs)[None, :]
        # a candidate with no phrase in a need role is judged on all of them, as in coverage_block
        need_counts = np.where(need_counts.sum(axis=1, keepdims=True) > 0, need_counts, counts)
        bwd = (best * need_counts).sum(axis=1) / np.maximum(need_counts.sum(axis=1), 1.0)
        return fuse_directions(fwd, bwd, params.fusion)

    def _reduced_scores(
        self,
        q: np.ndarray,
        q_roles: np.ndarray,
        slots: np.ndarray,
        roles: DirectionRoles,
        params: ScoringParams,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """`coverage_block` on cosines approximated in the PCA space (one gather, one matmul)."""
        lengths = self.length_[slots].astype(np.int64)
        rows = _ranges(self.start_[slots], lengths)
        qr = _padded(q @ self.components_[:, : self.reduced_dim])
        # (rows × d) @ (d × q) is the fast shape for OpenBLAS; coverage_block wants C-ordered (q, m)
        sims = np.ascontiguousarray((self.reduced_[rows] @ qr).T[: len(q)])
        return coverage_block(sims, q_roles, self.roles_[rows], _offsets(lengths), roles, params)

def _padded(q: np.ndarray) -> np.ndarray:
    """Return q.T with its columns padded with zeros to a multiple of 8.

    OpenBLAS is up to twice as slow for a skinny product with 10 columns as with 8 or 16.
    """
    n, d = q.shape
    out = np.zeros((d, -(-n // 8) * 8), dtype=np.float32)
    out[:, :n] = q.T
    return out


_BLAS = None


def _one_blas_thread():
    """Run BLAS on one thread: on two cores, threading a small product costs more than it saves."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def _grown(a: np.ndarray, capacity: int, used: int, fill=None) -> np.ndarray:
    """A larger copy of `a` keeping its first `used` entries; the rest is untouched memory."""
    out = np.empty((capacity,) + a.shape[1:], dtype=a.dtype)
    out[:used] = a[:used]
    if fill is not None:
        out[used:] = fill
    return out


def _move_down(a: np.ndarray, index: np.ndarray, chunk: int = 65_536) -> None:
    """Set `a[:len(index)] = a[index]` in place, chunk by chunk, for increasing `index`.

    Safe because index[i] >= i: a chunk only reads entries at or after where it writes, which
    earlier chunks have not overwritten; the temporary is one chunk, not the whole array.
    """
    for lo in range(0, len(index), chunk):
        hi = min(lo + chunk, len(index))
        a[lo:hi] = a[index[lo:hi]]
