"""The live in-memory index of every profile's phrase vectors, and top-k candidate retrieval.

Storage is one contiguous float32 matrix of phrase rows, each profile's rows kept together (a
*slot*), plus per-slot metadata as small integer codes so that filters are vectorised. A write
appends a new slot and tombstones the old one; the matrix grows by doubling and is compacted in
place once enough of it is dead, so a write never copies the whole index. Slots' rows are laid out
in slot order, always: a run of consecutive slots is a run of consecutive rows.

Retrieval is exhaustive below `exact_below_rows` candidate phrases, and whenever asked. Above it,
a cascade bounds the work per request (PERFORMANCE.md: only a profile-level shortlist followed by
progressively more exact scoring reached 99 % exact top-10):

1. *coded late interaction* over every allowed profile: each phrase is replaced by its nearest of
   `n_codes` k-means codes, so a query's cosine to any phrase is a lookup in a small table. The
   max of the forward coverage becomes a log-sum-exp and the backward coverage a plain sum, so
   both directions for all candidates are one sparse-matrix product. Keeps `shortlist_size`.
2. *reduced late interaction*: `coverage_block` on cosines approximated in a `reduced_dim` PCA
   space, over the shortlist's phrases.
3. *exact rescoring* with full vectors, exactly as the exhaustive path scores: the best
   `rescore_size` by reduced score, then every other whose reduced score, raised by the largest
   shortfall from the exact score expected among them, could still reach the pool (up to 8× as many).

Profile summaries such as role centroids were measured first and predict the score far worse:
the score takes a max over phrases, and a centroid averages a multi-theme profile's themes away.

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
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from scipy import sparse

from matching.arrays import grown, move_down, offsets, ranges
from matching.scoring import (
    DirectionRoles,
    Kind,
    ScoringParams,
    coverage_block,
    fuse_directions,
    needs_mask,
    serve_weights,
)
from matching.vectors import PhraseRole, ProfileVectors, StackedPhrases

__all__ = ["CandidateFilter", "PhraseIndex", "ProfileMeta", "RESCORE_SIZE", "Scored"]

_KINDS = (Kind.CITY.value, Kind.ORGANISATION.value)
_N_ROLES = len(PhraseRole)
_SHARPNESS = 30.0  # log-sum-exp temperature: with ~10 phrases, within log(10)/30 ≈ 0.08 of the max
_REDUCED_PIECE = 2_048  # slots per piece of the reduced stage: its temporaries stay in cache
_MIN_RUN = 64  # consecutive slots worth reading in place rather than gathering
_STEP = 131_072  # rows per step when transforming the whole matrix, to bound temporaries
_CODE_DIM = 64  # the k-means codes live in this prefix of the PCA space: cheap to fit, and enough
RESCORE_SIZE = 100  # profiles the cascade rescores exactly at least (see `PhraseIndex`)
_RESCORE_REACH = 8  # and at most this many times as many


@dataclass(frozen=True)
class ProfileMeta:
    """What a candidate filter can ask about a profile."""

    kind: str  # "city" | "organisation"
    bloc: str
    country: str
    org_type: str | None = None
    city: str | None = None  # an organisation's home city (a city profile's key)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, not {self.kind!r}")


@dataclass(frozen=True)
class CandidateFilter:
    """Which profiles may be suggested: the target kind, and optional restrictions.

    `exclude_bloc` is how city pairings cross blocs: the caller passes the query's own bloc.
    `exclude_keys` holds the query itself, its current partners and explicit exclusions.
    `countries` lets through any of several countries; `city` only organisations based there.
    """

    kind: str
    bloc: str | None = None
    exclude_bloc: str | None = None
    country: str | None = None
    org_type: str | None = None
    city: str | None = None
    countries: frozenset[str] | None = None
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


class _CodedQuery(NamedTuple):
    """One request's lookup table for the coded late interaction (see `PhraseIndex._code_table`)."""

    table: np.ndarray  # (roles · codes, columns)
    top: np.ndarray  # each query need's best weighted cosine to any code
    best: np.ndarray | None  # reciprocal: each code's best weighted cosine to a query phrase
    need_roles: np.ndarray  # 1.0 for the candidate's need roles
    fusion: str


class _Vocabulary:
    """Strings to small ints, growing as values are seen; 0 stands for None."""

    def __init__(self) -> None:
        self.id_of: dict[str | None, int] = {None: 0}

    def add(self, value: str | None) -> int:
        found = self.id_of.get(value)
        if found is None:
            found = self.id_of[value] = len(self.id_of)
        return found

    def get(self, value: str | None) -> int:
        """Return the id, or -1 for a value never stored (it matches no profile)."""
        return self.id_of.get(value, -1)


class PhraseIndex:
    """All profiles' phrase vectors in contiguous float32 storage, with filtered top-k retrieval.

    Parameters
    ----------
    dim : width of the phrase vectors.
    exact_below_rows : below this many allowed candidate phrases a request is scored
        exhaustively; the cascade's state is built once the index holds this many phrases.
    shortlist_size : profiles kept by the coded late interaction (at least 50·k). The rescored
        pool must hold the exact top-50, not only the top-10: the whole pool is re-ranked by the
        learned ranker, so the deepest member of the exhaustive pool sets the size, which
        `benchmarks/suggestions.py` checks (final suggestions identical to exhaustive scoring).
    rescore_size : profiles kept by the reduced late interaction and rescored exactly, at least
        (at least 6·k); candidates beyond these whose reduced score could still reach the pool
        are rescored too, up to 8× as many (see `_rescored`): near ties are rescored deeper,
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
        self._ones = np.ones(0, dtype=np.float32)  # CSR values of the code counts, reused
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
        self.city_ = np.empty(slot_capacity, dtype=np.int32)
        self.role_counts_ = np.empty((slot_capacity, _N_ROLES), dtype=np.float32)  # phrases per role
        self.n_slots_ = 0
        self.keys_: list[str | None] = []  # slot → key; None once tombstoned
        self.texts_: list[tuple[str, ...]] = []
        self.metas_: list[ProfileMeta | None] = []
        self.slot_of_: dict[str, int] = {}
        self.bloc_ids_ = _Vocabulary()
        self.country_ids_ = _Vocabulary()
        self.org_type_ids_ = _Vocabulary()
        self.city_ids_ = _Vocabulary()
        # the cascade's state, fitted once the index is large enough to need it
        self.components_: np.ndarray | None = None  # (dim, reduced) PCA directions
        self.codebook_: np.ndarray | None = None  # (codes, reduced) k-means centres
        self.nearest_centre_: np.ndarray | None = None  # the codebook as `_nearest` uses it
        self.code_vectors_: np.ndarray | None = None  # (codes, dim) mean phrase of each code
        self.fitted_rows_ = 0
        # int8 per dimension: half the bytes of float16 and far cheaper to widen to float32
        self.reduced_ = np.empty((row_capacity, 0), dtype=np.int8)
        self.reduced_scale_: np.ndarray | None = None
        self.codes_ = np.empty(row_capacity, dtype=np.int32)  # role · n_codes + code, per phrase

    def _ensure_capacity(self, rows: int, slots: int) -> None:
        """Grow storage by doubling, so appends cost amortised O(1) per phrase."""
        need = self.n_rows_ + rows
        if need > len(self.vectors_):
            cap = max(need, 2 * len(self.vectors_), 1_024)
            for name in ("vectors_", "roles_", "reduced_", "codes_"):
                setattr(self, name, grown(getattr(self, name), cap, self.n_rows_))
        need = self.n_slots_ + slots
        if need > len(self.start_):
            cap = max(need, 2 * len(self.start_), 256)
            for name in (
                "start_",
                "length_",
                "live_",
                "kind_",
                "bloc_",
                "country_",
                "org_type_",
                "city_",
                "role_counts_",
            ):
                setattr(self, name, grown(getattr(self, name), cap, self.n_slots_))

    def _check(self, profile: ProfileVectors) -> None:
        if profile.vectors.shape[1] != self.dim:
            raise ValueError(f"expected {self.dim}-d vectors, got {profile.vectors.shape[1]}-d")

    def _append(self, keys: Sequence[str], profiles: Sequence[ProfileVectors], metas: Sequence[ProfileMeta]) -> None:
        """Append one new slot per profile (keys must not be live)."""
        for p in profiles:
            self._check(p)
        lengths = np.fromiter((len(p) for p in profiles), dtype=np.int64, count=len(profiles))
        self._ensure_capacity(int(lengths.sum()), len(keys))
        row0, slot0, n = self.n_rows_, self.n_slots_, len(keys)
        new = slice(slot0, slot0 + n)
        self.start_[new] = row0 + np.cumsum(lengths) - lengths
        self.length_[new] = lengths
        self.live_[new] = True
        self.kind_[new] = [_KINDS.index(m.kind) for m in metas]
        self.bloc_[new] = [self.bloc_ids_.add(m.bloc) for m in metas]
        self.country_[new] = [self.country_ids_.add(m.country) for m in metas]
        self.org_type_[new] = [self.org_type_ids_.add(m.org_type) for m in metas]
        self.city_[new] = [self.city_ids_.add(m.city) for m in metas]
        row = row0 + int(lengths.sum())
        if len(profiles):
            np.concatenate([p.vectors for p in profiles], out=self.vectors_[row0:row], casting="same_kind")
            np.concatenate([p.roles for p in profiles], out=self.roles_[row0:row], casting="same_kind")
        cells = np.repeat(np.arange(n), lengths) * _N_ROLES + self.roles_[row0:row]
        self.role_counts_[new] = np.bincount(cells, minlength=n * _N_ROLES).reshape(n, _N_ROLES)
        self.n_rows_, self.n_slots_ = row, slot0 + n
        for i, (key, p, meta) in enumerate(zip(keys, profiles, metas)):
            self.slot_of_[key] = slot0 + i
            self.keys_.append(key)
            self.texts_.append(p.texts)
            self.metas_.append(meta)
        live_rows = self.n_rows_ - self.dead_rows_
        if self.components_ is None and live_rows >= max(self.exact_below_rows, 1):
            self._fit()
        elif self.components_ is not None and live_rows >= 4 * self.fitted_rows_:
            self._fit()  # refit as the index outgrows its sample: amortised O(1) per phrase
        elif self.components_ is not None:
            self._encode_rows(row0, row)

    def _tombstone(self, slot: int) -> None:
        self.live_[slot] = False
        self.dead_rows_ += int(self.length_[slot])
        del self.slot_of_[self.keys_[slot]]
        self.keys_[slot] = None
        self.texts_[slot] = ()
        self.metas_[slot] = None

    def compact(self) -> None:
        """Drop dead phrases and slots, in place; runs by itself once `compact_ratio` is dead."""
        live = np.flatnonzero(self.live_[: self.n_slots_])
        lengths = self.length_[live].astype(np.int64)
        rows = ranges(self.start_[live], lengths)
        for name in ("vectors_", "roles_", "reduced_", "codes_"):
            move_down(getattr(self, name), rows)
        for name in ("length_", "kind_", "bloc_", "country_", "org_type_", "city_", "role_counts_"):
            move_down(getattr(self, name), live)
        self.start_[: len(live)] = offsets(lengths)[:-1]
        self.live_[: len(live)] = True
        self.live_[len(live) :] = False
        self.n_rows_, self.dead_rows_, self.n_slots_ = len(rows), 0, len(live)
        self.keys_ = [self.keys_[s] for s in live]
        self.texts_ = [self.texts_[s] for s in live]
        self.metas_ = [self.metas_[s] for s in live]
        self.slot_of_ = {key: i for i, key in enumerate(self.keys_)}

    def _maybe_compact(self) -> None:
        if self.dead_rows_ > self.compact_ratio * max(self.n_rows_, 1):
            self.compact()

    # ------------------------------------------------------------------ the cascade's state

    def _fit(self) -> None:
        """Fit the PCA and the k-means codes on a sample of live phrases, then encode every phrase.

        The PCA is uncentred, so dot products in the reduced space approximate cosines.
        """
        n = self.n_slots_
        live = self.live_[:n]
        rows = ranges(self.start_[:n][live], self.length_[:n][live].astype(np.int64))
        rng = np.random.default_rng(self.random_state)
        if len(rows) > self.fit_sample:
            rows = np.sort(rng.choice(rows, self.fit_sample, replace=False))
        sample = self.vectors_[rows]
        _, eigenvectors = np.linalg.eigh((sample.T @ sample).astype(np.float64))
        width = min(self.reduced_dim, self.dim)
        self.components_ = np.ascontiguousarray(eigenvectors[:, ::-1][:, :width], dtype=np.float32)
        reduced_sample = sample @ self.components_
        self.reduced_scale_ = np.maximum(np.abs(reduced_sample).max(axis=0), 1e-6).astype(np.float32) / 127
        self.codebook_ = _kmeans(
            np.ascontiguousarray(reduced_sample[:, :_CODE_DIM]), min(self.n_codes, max(1, len(rows) // 8)), rng
        )
        self.nearest_centre_ = _nearest_centre(self.codebook_)
        self.fitted_rows_ = self.n_rows_ - self.dead_rows_
        self.reduced_ = np.empty((len(self.vectors_), width), dtype=np.int8)
        self._encode_rows(0, self.n_rows_)
        # a code stands for the mean of its phrases, the best single vector for their dot products
        n_codes = len(self.codebook_)
        sums = np.zeros((n_codes, self.dim), dtype=np.float64)
        counts = np.zeros(n_codes, dtype=np.int64)
        for a in range(0, self.n_rows_, _STEP):
            b = min(a + _STEP, self.n_rows_)
            code = self.codes_[a:b] % n_codes
            member = sparse.csr_matrix((np.ones(b - a, np.float32), (code, np.arange(b - a))), shape=(n_codes, b - a))
            sums += member @ self.vectors_[a:b]
            counts += np.bincount(code, minlength=n_codes)
        unused = self.codebook_ @ self.components_[:, :_CODE_DIM].T  # a code nobody uses: its centre
        self.code_vectors_ = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], unused).astype(
            np.float32
        )

    def _encode_rows(self, lo: int, hi: int) -> None:
        """Reduce rows [lo, hi) and give each its code (role · n_codes + nearest centre)."""
        n_codes = len(self.codebook_)
        for a in range(lo, hi, _STEP):
            b = min(a + _STEP, hi)
            reduced = self.vectors_[a:b] @ self.components_
            self.reduced_[a:b] = np.clip(np.rint(reduced / self.reduced_scale_), -127, 127)
            nearest = _nearest(reduced[:, :_CODE_DIM], self.nearest_centre_)
            self.codes_[a:b] = self.roles_[a:b].astype(np.int32) * n_codes + nearest

    # ------------------------------------------------------------------ public writes

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
        rows = slice(int(self.start_[slot]), int(self.start_[slot] + self.length_[slot]))
        return ProfileVectors(
            vectors=self.vectors_[rows].copy(), roles=self.roles_[rows].copy(), texts=self.texts_[slot]
        )

    def stacked_of(self, keys: Sequence[str]) -> StackedPhrases:
        """The stored phrases of `keys`, one after another, taken in one pass (`vectors_of` of
        each, stacked, without a copy per profile)."""
        slots = np.fromiter((self.slot_of_[key] for key in keys), dtype=np.int64, count=len(keys))
        lengths = self.length_[slots].astype(np.int64)
        rows = ranges(self.start_[slots], lengths)
        return StackedPhrases(self.vectors_.take(rows, axis=0), self.roles_.take(rows), offsets(lengths))

    def meta_of(self, key: str) -> ProfileMeta:
        """Return the stored metadata of `key` (KeyError if absent)."""
        return self.metas_[self.slot_of_[key]]

    def allowed_mask(self, filt: CandidateFilter) -> np.ndarray:
        """Over all slots: True where the filter lets a profile through (live and with phrases)."""
        return self._allowed([filt], slice(0, self.n_slots_))[0]

    def allowed_among(self, filters: Sequence[CandidateFilter], slots: np.ndarray) -> np.ndarray:
        """(filters × slots) bool: each filter's `allowed_mask` at the given (ascending) slots, all at once.

        The batch asks this for a block of 256 filters over ~60k candidates: one broadcast
        comparison per restricting field instead of a full-index mask per filter and a gather.
        """
        return self._allowed(filters, slots)

    def _allowed(self, filters: Sequence[CandidateFilter], slots: np.ndarray | slice) -> np.ndarray:
        """The filters' rules, in one place, at ascending slots or at a slice of them (read in place)."""
        usable = self.live_[slots] & (self.length_[slots] > 0)
        by_kind = np.stack([usable & (self.kind_[slots] == kind) for kind in range(len(_KINDS))])
        out = by_kind[[_KINDS.index(f.kind) for f in filters]]
        fields = (
            ("bloc", self.bloc_, self.bloc_ids_, np.equal),
            ("exclude_bloc", self.bloc_, self.bloc_ids_, np.not_equal),
            ("country", self.country_, self.country_ids_, np.equal),
            ("org_type", self.org_type_, self.org_type_ids_, np.equal),
            ("city", self.city_, self.city_ids_, np.equal),
        )
        for name, column, ids, compare in fields:
            asked = [i for i, f in enumerate(filters) if getattr(f, name) is not None]
            if not asked:
                continue
            wanted = np.array([ids.get(getattr(filters[i], name)) for i in asked])[:, None]
            if len(asked) == len(filters):  # in place: the batch's city pairings all exclude their bloc
                out &= compare(column[slots], wanted)
            else:
                out[asked] &= compare(column[slots], wanted)
        for i, f in enumerate(filters):
            if f.countries is not None:
                wanted_countries = [self.country_ids_.get(c) for c in f.countries]
                out[i] &= np.isin(self.country_[slots], wanted_countries)
            excluded = np.array([self.slot_of_[key] for key in f.exclude_keys if key in self.slot_of_], dtype=np.int64)
            out[i, _positions(slots, excluded)] = False
        return out

    def allowed(self, filt: CandidateFilter) -> np.ndarray:
        """Return, ascending, the slots a filter lets through (live and with phrases)."""
        return np.flatnonzero(self.allowed_mask(filt))

    def slot(self, key: str) -> int:
        """Where `key` is stored (KeyError if absent); valid until the next write."""
        return self.slot_of_[key]

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
        """Return the best `k` allowed candidates for `query`, by dense desc then key asc.

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
        q, q_roles = _query_rows(query, roles)
        if exact or self.components_ is None or int(self.length_[slots].sum()) < self.exact_below_rows:
            fwd, bwd = self._exact_scores(q, q_roles, slots, roles, params)
            return self._best(slots, fwd, bwd, params, max(k, pool))
        return self._cascade(q, q_roles, slots, roles, params, k, pool)

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
        rescore = self.rescore_first(k)
        shortlist = max(self.shortlist_size, 50 * k, 2 * rescore)
        cascade = not exact and self.components_ is not None and int(self.length_[slots].sum()) >= self.exact_below_rows
        if not cascade or len(slots) <= shortlist:
            return [self.top_k(query, roles, params, k, f, exact, pool) for f in (filt, *narrower)]
        q, q_roles = _query_rows(query, roles)
        coded = self._coded_scores(slots, self._code_table(q, q_roles, roles, params))
        out = [self._shortlisted(slots, coded, shortlist, q, q_roles, roles, params, k, pool)]
        for f in narrower:
            at = np.flatnonzero(self.allowed_mask(f)[slots])
            out.append(self._shortlisted(slots[at], coded[at], shortlist, q, q_roles, roles, params, k, pool))
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
        exactly (see `_rescored`, `rescore` is its `first`): the exact cosines, in float64, cost
        several times the reduced ones.
        """
        if k <= 0 or len(query) == 0 or len(slots) == 0:
            return []
        self._check(query)
        q, q_roles = _query_rows(query, roles)
        keep = max(k, pool)
        first = max(rescore, keep)
        if rescore and self.components_ is not None and len(slots) > first:
            reduced = self._reduced_scores(slots, q, q_roles, roles, params)
            return self._rescored(slots, reduced, q, q_roles, roles, params, first, keep)
        fwd, bwd = self._exact_scores(q, q_roles, slots, roles, params)
        return self._best(slots, fwd, bwd, params, keep)

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
        q, q_roles = _query_rows(query, roles)
        if self.code_vectors_ is None or int(self.length_[slots].sum()) < self.exact_below_rows:
            fwd, bwd = self._exact_scores(q, q_roles, slots, roles, params)
            return _dense(fwd, bwd, params)
        return self._coded_scores(slots, self._code_table(q, q_roles, roles, params))

    # ------------------------------------------------------------------ scoring

    def _exact_scores(
        self,
        q: np.ndarray,
        q_roles: np.ndarray,
        slots: np.ndarray,
        roles: DirectionRoles,
        params: ScoringParams,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Coverage of every slot given, by `coverage_block`, in blocks of about `block_rows` phrases.

        Cosines are taken in float64: OpenBLAS picks a different float32 kernel for a small block
        than for a large one, so the same candidate would score a few ulps apart on the cascade
        and the exhaustive path, and exact ties (duplicate profiles) would not stay ties. Rounded
        back to float32, the scores no longer depend on the block a candidate falls in.
        """
        query = _padded(q).astype(np.float64)
        lengths = self.length_[slots].astype(np.int64)
        ends = np.cumsum(lengths)
        cuts = np.searchsorted(ends, np.arange(self.block_rows, int(ends[-1]), self.block_rows), side="right")
        bounds = np.unique(np.concatenate(([0], cuts, [len(slots)])))
        fwd = np.empty(len(slots), dtype=np.float32)
        bwd = np.empty(len(slots), dtype=np.float32) if roles.reciprocal else None
        for a, b in zip(bounds[:-1], bounds[1:]):
            rows = ranges(self.start_[slots[a:b]], lengths[a:b])
            # (rows × d) @ (d × q) is OpenBLAS's fast shape; coverage_block wants (q, rows) C-ordered
            sims = np.ascontiguousarray((self.vectors_.take(rows, axis=0).astype(np.float64) @ query).T[: len(q)])
            f, r = coverage_block(sims, q_roles, self.roles_.take(rows), offsets(lengths[a:b]), roles, params)
            fwd[a:b] = f
            if bwd is not None:
                bwd[a:b] = r
        return fwd, bwd

    def _best(
        self, slots: np.ndarray, fwd: np.ndarray, bwd: np.ndarray | None, params: ScoringParams, k: int
    ) -> list[Scored]:
        """The k best by dense desc then key asc; every tie at the k-th score is considered."""
        dense = _dense(fwd, bwd, params)
        if len(dense) > k:
            kth = np.partition(dense, len(dense) - k)[len(dense) - k]
            pick = np.flatnonzero(dense >= kth)
        else:
            pick = np.arange(len(dense))
        keys = [self.keys_[s] for s in slots[pick].tolist()]
        order = np.lexsort((np.array(keys), -dense[pick]))[:k]  # by the last key first: dense desc, then key
        best = pick[order]
        backward = [None] * len(best) if bwd is None else bwd[best].tolist()
        return [
            Scored(key=keys[i], dense=d, forward=f, backward=b)
            for i, d, f, b in zip(order.tolist(), dense[best].tolist(), fwd[best].tolist(), backward)
        ]

    def _cascade(
        self,
        q: np.ndarray,
        q_roles: np.ndarray,
        slots: np.ndarray,
        roles: DirectionRoles,
        params: ScoringParams,
        k: int,
        pool: int = 0,
    ) -> list[Scored]:
        """Coded late interaction → reduced late interaction → exact rescoring; up to max(k, pool) back."""
        rescore = self.rescore_first(k)
        shortlist = max(self.shortlist_size, 50 * k, 2 * rescore)
        coded = (
            self._coded_scores(slots, self._code_table(q, q_roles, roles, params)) if len(slots) > shortlist else None
        )
        return self._shortlisted(slots, coded, shortlist, q, q_roles, roles, params, k, pool)

    def _shortlisted(
        self,
        slots: np.ndarray,
        coded: np.ndarray | None,
        shortlist: int,
        q: np.ndarray,
        q_roles: np.ndarray,
        roles: DirectionRoles,
        params: ScoringParams,
        k: int,
        pool: int,
    ) -> list[Scored]:
        """The cascade after its coded stage: the best `shortlist` of `slots` (ascending) by coded
        score, by reduced score the candidates to rescore, and the best max(k, pool) exactly."""
        if len(slots) == 0:
            return []
        rescore = self.rescore_first(k)
        keep = max(k, pool)
        if coded is not None and len(slots) > shortlist:
            slots = np.sort(slots[np.argpartition(coded, len(slots) - shortlist)[-shortlist:]])
        if len(slots) > rescore:
            # in pieces, so that each piece's temporaries stay in cache
            reduced = np.concatenate(
                [
                    self._reduced_scores(slots[i : i + _REDUCED_PIECE], q, q_roles, roles, params)
                    for i in range(0, len(slots), _REDUCED_PIECE)
                ]
            )
            return self._rescored(slots, reduced, q, q_roles, roles, params, max(rescore, keep), keep)
        fwd, bwd = self._exact_scores(q, q_roles, slots, roles, params)
        return self._best(slots, fwd, bwd, params, keep)

    def rescore_first(self, k: int) -> int:
        """How many the cascade's last stage rescores exactly before its margin (`_rescored`) for a top-k.

        Deeper ranks are closer together, so a larger k needs wider stages (measured: k = 50).
        """
        return max(self.rescore_size, 6 * k)

    def _rescored(
        self,
        slots: np.ndarray,
        reduced: np.ndarray,
        q: np.ndarray,
        q_roles: np.ndarray,
        roles: DirectionRoles,
        params: ScoringParams,
        first: int,
        keep: int,
    ) -> list[Scored]:
        """The best `keep` of `slots` (ascending) by exact score, scoring exactly only what the
        reduced scores cannot rule out.

        The best `first` by reduced score are scored exactly, which shows how far the reduced
        score falls short of the exact one: a mean and a spread. Every other candidate whose
        reduced score plus the largest shortfall expected among that many (mean + spread ·
        √(2 ln n), the expected maximum of n normal draws) reaches the `keep`-th exact score so
        far is scored exactly too, the best first, up to `_RESCORE_REACH` × `first` in all: near
        ties are rescored deeper, clear leads no deeper. The largest shortfall seen among the
        first is too small a margin for the many that remain (`benchmarks/suggestions.py`
        measures the agreement this buys, organisations asking for organisations the hardest).
        """
        order = np.argsort(-reduced, kind="stable")
        head = np.sort(order[:first])
        fwd, bwd = self._exact_scores(q, q_roles, slots[head], roles, params)
        dense = _dense(fwd, bwd, params)
        rest = order[first:]
        if len(dense) >= keep and len(rest):
            kth = np.partition(dense, len(dense) - keep)[len(dense) - keep]
            shortfall = dense - reduced[head]
            margin = float(shortfall.mean() + shortfall.std() * np.sqrt(2 * np.log(max(len(rest), 2))))
            extra = np.sort(rest[reduced[rest] + margin >= kth][: (_RESCORE_REACH - 1) * first])
            if len(extra):
                more_fwd, more_bwd = self._exact_scores(q, q_roles, slots[extra], roles, params)
                head = np.concatenate([head, extra])
                fwd = np.concatenate([fwd, more_fwd])
                bwd = None if bwd is None else np.concatenate([bwd, more_bwd])
        return self._best(slots[head], fwd, bwd, params, keep)

    def _code_table(
        self, q: np.ndarray, q_roles: np.ndarray, roles: DirectionRoles, params: ScoringParams
    ) -> _CodedQuery:
        """What each (role, code) phrase contributes to a candidate's sums in `_coded_scores`.

        Table columns: per query need, exp(sharpness · (weighted cosine − that need's best)), whose
        sum over a candidate's phrases is a log-sum-exp stand-in for the max of forward coverage;
        then, when reciprocal, the best weighted cosine of any query phrase to the code if the
        phrase is one of the candidate's needs, else 0 (its sum: backward coverage before the mean).
        """
        n_codes = len(self.codebook_)
        cosines = self.code_vectors_ @ _padded(q)  # (codes, q padded)
        need = np.flatnonzero(needs_mask(q_roles, roles.query_needs))
        need_cosines = cosines[:, need]
        serve = serve_weights(np.arange(_N_ROLES, dtype=np.int8), roles.target_serves, params)
        # each need's best weighted cosine, as the shift that keeps exp from overflowing
        top = np.maximum(need_cosines.max(axis=0) * serve.max(), 0.0)
        table = np.zeros((_N_ROLES * n_codes, len(need) + roles.reciprocal), dtype=np.float32)
        for role in range(_N_ROLES):
            # weight 0 still contributes exp(−top): the zero an unserving phrase gives in coverage_block
            table[role * n_codes : (role + 1) * n_codes, : len(need)] = np.exp(
                _SHARPNESS * (serve[role] * need_cosines - top)
            )
        best = None
        need_roles = _role_mask(roles.target_needs)
        if roles.reciprocal:
            q_serve = serve_weights(q_roles, roles.query_serves, params)
            best = np.zeros(n_codes, dtype=np.float32)  # column by column: a max over 10 is slow in numpy
            for j in np.flatnonzero(q_serve > 0):
                np.maximum(best, cosines[:, j] * q_serve[j], out=best)
            table[:, -1] = np.kron(need_roles, best)
        return _CodedQuery(table, top.astype(np.float32), best, need_roles, params.fusion)

    def _coded_scores(self, slots: np.ndarray, coded: _CodedQuery) -> np.ndarray:
        """Approximate dense score of each slot, with its phrases replaced by their codes.

        Cosines are looked up per code, so each coverage becomes a sum over the candidate's
        phrases (see `_code_table`): a product of the slots' phrase-by-code count matrix with the
        table. Weights, fallbacks and the zero floor follow `coverage_block`.
        """
        top = coded.top
        sums = np.empty((len(slots), coded.table.shape[1]), dtype=np.float32)
        for part, counts in self._code_counts(slots):
            sums[part] = counts @ coded.table
        n_need = len(top)
        backward_sum = sums[:, n_need].copy() if coded.best is not None else None
        with np.errstate(divide="ignore", invalid="ignore"):
            np.log(sums, out=sums)  # on the whole contiguous array: numpy's fast path for log
        # column by column: elementwise work on an (n, 4) view is several times slower in numpy
        fwd = np.zeros(len(slots), dtype=np.float32)
        per_need = np.empty(len(slots), dtype=np.float32)
        for i in range(n_need):
            np.multiply(sums[:, i], 1 / _SHARPNESS, out=per_need)
            per_need += top[i]
            np.maximum(per_need, 0.0, out=per_need)
            fwd += per_need
        fwd *= 1 / n_need
        if backward_sum is None:
            return fwd
        need_count = np.zeros(len(slots), dtype=np.float32)
        for role in np.flatnonzero(coded.need_roles):
            need_count += self.role_counts_[slots, role]
        bwd = backward_sum / np.maximum(need_count, 1.0)
        none = np.flatnonzero(need_count == 0)
        if len(none):
            # a candidate with no phrase in a need role is judged on all of them, as in coverage_block
            any_role = np.tile(coded.best, _N_ROLES)[:, None].astype(np.float32)
            for part, counts in self._code_counts(slots[none]):
                bwd[none[part]] = (counts @ any_role)[:, 0] / self.length_[slots[none[part]]]
        np.maximum(bwd, 0.0, out=bwd)
        return fuse_directions(fwd, bwd, coded.fusion)

    def _code_counts(self, slots: np.ndarray) -> Iterator[tuple[slice | np.ndarray, sparse.csr_matrix]]:
        """Yield (positions in `slots`, their slot × role·code phrase counts as CSR).

        A long run of consecutive slots has consecutive rows, so its codes are read in place
        (bulk_load orders slots by kind and bloc, so most candidates come in a few such runs);
        the scattered rest is gathered once.
        """
        shape = (0, _N_ROLES * len(self.codebook_))
        bounds = np.concatenate(([0], np.flatnonzero(np.diff(slots) != 1) + 1, [len(slots)]))
        run_lengths = np.diff(bounds)
        for a, b in zip(bounds[:-1][run_lengths >= _MIN_RUN], bounds[1:][run_lengths >= _MIN_RUN]):
            r0 = int(self.start_[slots[a]])
            r1 = int(self.start_[slots[b - 1]] + self.length_[slots[b - 1]])
            indptr = np.empty(b - a + 1, dtype=np.int32)
            indptr[:-1] = self.start_[slots[a] : slots[b - 1] + 1] - r0
            indptr[-1] = r1 - r0
            yield slice(a, b), self._csr(self.codes_[r0:r1], indptr, (b - a, shape[1]))
        scattered = np.flatnonzero(np.repeat(run_lengths < _MIN_RUN, run_lengths))
        if len(scattered):
            lengths = self.length_[slots[scattered]]
            indptr = np.zeros(len(scattered) + 1, dtype=np.int32)
            np.cumsum(lengths, out=indptr[1:])
            codes = self.codes_[ranges(self.start_[slots[scattered]], lengths.astype(np.int64))]
            yield scattered, self._csr(codes, indptr, (len(scattered), shape[1]))

    def _csr(self, codes: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
        if len(self._ones) < len(codes):
            self._ones = np.ones(2 * len(codes), dtype=np.float32)
        return sparse.csr_matrix((self._ones[: len(codes)], codes, indptr), shape=shape)

    def _reduced_scores(
        self,
        slots: np.ndarray,
        q: np.ndarray,
        q_roles: np.ndarray,
        roles: DirectionRoles,
        params: ScoringParams,
    ) -> np.ndarray:
        """Dense score from `coverage_block` on cosines approximated in the PCA space."""
        lengths = self.length_[slots].astype(np.int64)
        rows = ranges(self.start_[slots], lengths)
        reduced_query = _padded(q @ self.components_ * self.reduced_scale_)  # rows stay as stored
        # (rows × d) @ (d × q) is OpenBLAS's fast shape; coverage_block wants (q, rows) C-ordered
        sims = np.ascontiguousarray((self.reduced_.take(rows, axis=0).astype(np.float32) @ reduced_query).T[: len(q)])
        fwd, bwd = coverage_block(sims, q_roles, self.roles_.take(rows), offsets(lengths), roles, params)
        return fuse_directions(fwd, bwd, params.fusion) if bwd is not None else fwd


# ---------------------------------------------------------------------- helpers


def _dense(fwd: np.ndarray, bwd: np.ndarray | None, params: ScoringParams) -> np.ndarray:
    """The dense score from coverages: fused both ways when reciprocal, else the forward one."""
    return (fuse_directions(fwd, bwd, params.fusion) if bwd is not None else fwd).astype(np.float32)


def _positions(slots: np.ndarray | slice, wanted: np.ndarray) -> np.ndarray:
    """Where the wanted slots sit among ascending `slots` (a slice from 0: at themselves); absent ones dropped."""
    if isinstance(slots, slice):
        return wanted[wanted < slots.stop]
    at = np.searchsorted(slots, wanted)
    return at[(at < len(slots)) & (slots[np.minimum(at, len(slots) - 1)] == wanted)]


def _role_mask(wanted: tuple[PhraseRole, ...]) -> np.ndarray:
    """1.0 for each wanted role code, else 0.0."""
    mask = np.zeros(_N_ROLES, dtype=np.float32)
    mask[list(wanted)] = 1.0
    return mask


def _query_rows(query: ProfileVectors, roles: DirectionRoles) -> tuple[np.ndarray, np.ndarray]:
    """The query's rows and roles that take part: one way, only its needs (dropped before any product)."""
    q, q_roles = np.ascontiguousarray(query.vectors, dtype=np.float32), query.roles
    if not roles.reciprocal:
        need = needs_mask(q_roles, roles.query_needs)
        q, q_roles = np.ascontiguousarray(q[need]), q_roles[need]
    return q, q_roles


def _padded(q: np.ndarray) -> np.ndarray:
    """Return q.T with zero columns up to a multiple of 8.

    OpenBLAS multiplies a tall matrix by 10 columns up to twice as slowly as by 8 or 16.
    """
    n, d = q.shape
    out = np.zeros((d, -(-n // 8) * 8), dtype=np.float32)
    out[:, :n] = q.T
    return out


def _nearest_centre(centres: np.ndarray) -> np.ndarray:
    """The matrix that `_nearest` multiplies by: centres, and −|c|²/2 against a column of ones."""
    return np.ascontiguousarray(
        np.concatenate([centres, -0.5 * (centres * centres).sum(axis=1, keepdims=True)], axis=1).T, dtype=np.float32
    )


def _nearest(x: np.ndarray, nearest_centre: np.ndarray, chunk: int = 16_384) -> np.ndarray:
    """Index of the nearest centre (Euclidean) of each row: argmax of x·c − |c|²/2."""
    out = np.empty(len(x), dtype=np.int32)
    block = np.ones((min(chunk, len(x)), x.shape[1] + 1), dtype=np.float32)
    for a in range(0, len(x), chunk):
        b = min(a + chunk, len(x))
        block[: b - a, :-1] = x[a:b]
        out[a:b] = np.argmax(block[: b - a] @ nearest_centre, axis=1)
    return out


def _kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 8) -> np.ndarray:
    """Lloyd's k-means from k distinct sample points; a centre left empty stays where it was."""
    centres = x[rng.choice(len(x), k, replace=False)].copy()
    for _ in range(iterations):
        nearest = _nearest(x, _nearest_centre(centres))
        member = sparse.csr_matrix((np.ones(len(x), np.float32), (nearest, np.arange(len(x)))), shape=(k, len(x)))
        counts = np.bincount(nearest, minlength=k)
        sums = member @ x
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
    return centres
