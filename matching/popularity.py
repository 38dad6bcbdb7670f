"""Each profile's usual score as a candidate: the popularity correction's reference point.

A few broadly written profiles sit near the top for every query (hubness). How far a pair's
score stands above the candidate's usual score says more than the score alone (CSLS, Conneau et
al. 2018, corrects nearest neighbours the same way). The usual score is the mean dense score the
candidate gets from a fixed sample of askers of one kind; the sample is chosen by a hash of the
keys, so it does not depend on load order, and a candidate is never its own asker.

A write need not stop readers while its profiles are scored: `prepared` computes, from their
vectors alone and reading the index only, what `update` would set once the index holds them.
"""

import hashlib
import sys
from collections.abc import Iterable, Sequence

import numpy as np

from matching.index import PhraseIndex
from matching.scoring import ScoringParams, direction_roles
from matching.types import CandidateFilter, Kind, ProfileMeta
from matching.vectors import ProfileVectors

__all__ = ["UsualScores", "UsualTables"]

UsualTables = dict[tuple[Kind, Kind], dict[str, float]]  # direction (asker kind, its kind) → key → usual score

SAMPLE_SIZE = 64
_DIRECTIONS = ((Kind.CITY, Kind.CITY), (Kind.CITY, Kind.ORGANISATION), (Kind.ORGANISATION, Kind.CITY))


def _order(key: str) -> bytes:
    return hashlib.sha1(key.encode("utf-8")).digest()


class UsualScores:
    """The usual score of every stored profile as a candidate, per direction (asker kind → its kind).

    Exact below the index's cascade threshold; above, from the coded late interaction, one sparse
    product per asker (a prior that averages many scores needs no exact cosine).
    """

    def __init__(self, *, sample_size: int = SAMPLE_SIZE) -> None:
        self.sample_size = sample_size
        self.askers_: dict[Kind, list[str]] = {}
        self.usual_: UsualTables = {}

    def copy(self) -> "UsualScores":
        """A copy sharing nothing `fit`, `update`, `apply` or `remove` change in place."""
        other = UsualScores(sample_size=self.sample_size)
        other.askers_ = {kind: list(askers) for kind, askers in self.askers_.items()}
        other.usual_ = {direction: dict(table) for direction, table in self.usual_.items()}
        return other

    def fit(self, index: PhraseIndex, params: ScoringParams) -> "UsualScores":
        by_kind: dict[Kind, list[str]] = {Kind.CITY: [], Kind.ORGANISATION: []}
        for key in index.keys():
            by_kind[Kind(index.meta_of(key).kind)].append(key)
        self.askers_ = {kind: sorted(keys, key=_order)[: self.sample_size] for kind, keys in by_kind.items()}
        self.usual_ = {}
        for query_kind, target in _DIRECTIONS:
            slots = index.allowed(CandidateFilter(kind=target.value))
            keys = index.keys_at(slots)
            self.usual_[(query_kind, target)] = dict(
                zip(keys, self._means(index, params, query_kind, target, slots, keys).tolist())
            )
        return self

    def update(self, index: PhraseIndex, params: ScoringParams, keys: Iterable[str]) -> None:
        """Score written profiles as candidates; refit when the sample of askers itself changes (a
        written profile is or becomes one of them), so the scores are what `fit` would give now."""
        keys = list(keys)
        if any(self._is_asker(index, key) for key in keys):
            self.fit(index, params)
            return
        for key in keys:
            if key not in index:
                continue
            kind = Kind(index.meta_of(key).kind)
            slots = np.array([index.slot(key)], dtype=np.int64)
            for query_kind, target in _DIRECTIONS:
                if target == kind:
                    self.usual_.setdefault((query_kind, target), {})[key] = float(
                        self._means(index, params, query_kind, target, slots, [key])[0]
                    )

    def prepared(
        self, index: PhraseIndex, params: ScoringParams, entries: Sequence[tuple[str, ProfileVectors, ProfileMeta]]
    ) -> UsualTables | None:
        """What `update` will set for these profiles (key, vectors, meta; distinct keys) once `index`
        holds them, computed before it does, from their own vectors: `index` is only read.

        The same floats: each written profile is scored exactly, on its own rows, as `update`
        scores its one slot of the index. None where `update` would do more than set their scores
        (one of them is, was or becomes an asker: a refit) or score them otherwise (one has
        `exact_below_rows` phrases or more, which a fitted index scores by its cascade): then
        `update` must run once the index holds them.
        """
        for key, vectors, meta in entries:
            if self._would_ask(key, Kind(meta.kind)) or self.asks([key]) or len(vectors) >= index.exact_below_rows:
                return None
        written = PhraseIndex(dim=index.dim, exact_below_rows=sys.maxsize).bulk_load(entries)
        out: UsualTables = {}
        for key, _, meta in entries:
            slots = np.array([written.slot(key)], dtype=np.int64)
            for query_kind, target in _DIRECTIONS:
                if target == Kind(meta.kind):
                    mean = self._means(index, params, query_kind, target, slots, [key], candidates=written)[0]
                    out.setdefault((query_kind, target), {})[key] = float(mean)
        return out

    def apply(self, tables: UsualTables) -> None:
        """Set the usual scores `prepared` computed, once the index holds their profiles."""
        for direction, table in tables.items():
            self.usual_.setdefault(direction, {}).update(table)

    def asks(self, keys: Iterable[str]) -> bool:
        """Whether one of these profiles is in the sample of askers (writing or removing it refits)."""
        return any(key in askers for askers in self.askers_.values() for key in keys)

    def _is_asker(self, index: PhraseIndex, key: str) -> bool:
        return key in index and self._would_ask(key, Kind(index.meta_of(key).kind))

    def _would_ask(self, key: str, kind: Kind) -> bool:
        """Whether a profile of this kind is or would be one of the sample of askers of its kind."""
        askers = self.askers_.get(kind, [])
        return key in askers or len(askers) < self.sample_size or _order(key) < _order(askers[-1])

    def remove(self, index: PhraseIndex, params: ScoringParams, keys: Iterable[str]) -> None:
        """Forget removed profiles (after the index has); refit if one of them was an asker."""
        keys = list(keys)
        if self.asks(keys):
            self.fit(index, params)
            return
        for table in self.usual_.values():
            for key in keys:
                table.pop(key, None)

    def of(self, query_kind: Kind, target: Kind, keys: Sequence[str]) -> np.ndarray:
        """The usual scores of `keys` as candidates of askers of `query_kind` (0 when unknown)."""
        table = self.usual_.get((Kind(query_kind), Kind(target)), {})
        return np.array([table.get(key, 0.0) for key in keys], dtype=np.float64)

    def _means(
        self,
        index: PhraseIndex,
        params: ScoringParams,
        query_kind: Kind,
        target: Kind,
        slots: np.ndarray,
        keys: Sequence[str],
        candidates: PhraseIndex | None = None,
    ) -> np.ndarray:
        """The mean dense score of each candidate (`slots` of `candidates`, by default `index`; `keys`
        theirs) from the askers of `query_kind` stored in `index`."""
        candidates = index if candidates is None else candidates
        roles = direction_roles(query_kind, target)
        sums = np.zeros(len(slots))
        counts = np.zeros(len(slots))
        position = {key: i for i, key in enumerate(keys)}
        for asker in self.askers_.get(query_kind, []):
            if asker not in index:
                continue
            scores = candidates.dense_scores(index.vectors_of(asker), roles, params, slots).astype(np.float64)
            mine = position.get(asker)
            if mine is not None:
                scores[mine] = 0.0  # never its own asker
            sums += scores
            counts += 1
            if mine is not None:
                counts[mine] -= 1
        return np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
