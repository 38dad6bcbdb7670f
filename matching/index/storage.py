"""The index's storage: every profile's phrase rows back to back in growable arrays.

Each profile's rows are kept together (a *slot*). A write appends a new slot and tombstones the
old one; the arrays grow by doubling and are compacted in place once enough of them is dead, so a
write never copies the whole index. Slots' rows are laid out in slot order, always: a run of
consecutive slots is a run of consecutive rows, which the cascade reads in place.
"""

from collections.abc import Sequence

import numpy as np

from matching.arrays import grown, move_down, offsets, ranges
from matching.index.filters import FilterColumns
from matching.types import CandidateFilter, PhraseRole, ProfileMeta
from matching.vectors import ProfileVectors, StackedPhrases

__all__ = ["PhraseStorage"]

N_ROLES = len(PhraseRole)


class PhraseStorage:
    """Phrase rows (vectors, roles and the per-row columns others derive from them) and slots
    (where a profile's rows start, how many, whether live, its key, texts and filter metadata)."""

    def __init__(self, dim: int, *, row_capacity: int = 0, slot_capacity: int = 0) -> None:
        self.dim = dim
        # per-row columns: the vectors, their roles, and what others derive from them (the cascade's codes)
        self.rows_: dict[str, np.ndarray] = {
            "vectors": np.empty((row_capacity, dim), dtype=np.float32),
            "roles": np.empty(row_capacity, dtype=np.int8),
        }
        self.n_rows_ = 0
        self.dead_rows_ = 0
        self.start_ = np.empty(slot_capacity, dtype=np.int64)
        self.length_ = np.empty(slot_capacity, dtype=np.int32)
        self.live_ = np.zeros(slot_capacity, dtype=bool)
        self.role_counts_ = np.empty((slot_capacity, N_ROLES), dtype=np.float32)  # phrases per role
        self.filters_ = FilterColumns(slot_capacity)
        self.n_slots_ = 0
        self.keys_: list[str | None] = []  # slot → key; None once tombstoned
        self.texts_: list[tuple[str, ...]] = []
        self.metas_: list[ProfileMeta | None] = []
        self.slot_of_: dict[str, int] = {}

    # ------------------------------------------------------------------ writes

    @property
    def vectors(self) -> np.ndarray:
        return self.rows_["vectors"]

    @property
    def roles(self) -> np.ndarray:
        return self.rows_["roles"]

    def derive(self, name: str, dtype: type, width: int | None = None) -> None:
        """Add a per-row column (unset), as long as the row storage and grown and compacted with it;
        read and written as `rows_[name]`."""
        capacity = len(self.vectors)
        self.rows_[name] = np.empty((capacity,) if width is None else (capacity, width), dtype=dtype)

    def _ensure_capacity(self, rows: int, slots: int) -> None:
        """Grow by doubling, so appends cost amortised O(1) per phrase."""
        need = self.n_rows_ + rows
        if need > len(self.vectors):
            cap = max(need, 2 * len(self.vectors), 1_024)
            for name, array in list(self.rows_.items()):
                self.rows_[name] = grown(array, cap, self.n_rows_)
        need = self.n_slots_ + slots
        if need > len(self.start_):
            cap = max(need, 2 * len(self.start_), 256)
            for name in ("start_", "length_", "live_", "role_counts_"):
                setattr(self, name, grown(getattr(self, name), cap, self.n_slots_))
            self.filters_.grow(cap, self.n_slots_)

    def append(
        self, keys: Sequence[str], profiles: Sequence[ProfileVectors], metas: Sequence[ProfileMeta]
    ) -> tuple[int, int]:
        """One new slot per profile (keys must not be live); returns the range of rows written."""
        for p in profiles:
            if p.vectors.shape[1] != self.dim:
                raise ValueError(f"expected {self.dim}-d vectors, got {p.vectors.shape[1]}-d")
        lengths = np.fromiter((len(p) for p in profiles), dtype=np.int64, count=len(profiles))
        self._ensure_capacity(int(lengths.sum()), len(keys))
        row0, slot0, n = self.n_rows_, self.n_slots_, len(keys)
        new = slice(slot0, slot0 + n)
        self.start_[new] = row0 + np.cumsum(lengths) - lengths
        self.length_[new] = lengths
        self.live_[new] = True
        self.filters_.set(new, metas)
        row = row0 + int(lengths.sum())
        if len(profiles):
            np.concatenate([p.vectors for p in profiles], out=self.vectors[row0:row], casting="same_kind")
            np.concatenate([p.roles for p in profiles], out=self.roles[row0:row], casting="same_kind")
        cells = np.repeat(np.arange(n), lengths) * N_ROLES + self.roles[row0:row]
        self.role_counts_[new] = np.bincount(cells, minlength=n * N_ROLES).reshape(n, N_ROLES)
        self.n_rows_, self.n_slots_ = row, slot0 + n
        for i, (key, p, meta) in enumerate(zip(keys, profiles, metas)):
            self.slot_of_[key] = slot0 + i
            self.keys_.append(key)
            self.texts_.append(p.texts)
            self.metas_.append(meta)
        return row0, row

    def tombstone(self, slot: int) -> None:
        self.live_[slot] = False
        self.dead_rows_ += int(self.length_[slot])
        del self.slot_of_[self.keys_[slot]]
        self.keys_[slot] = None
        self.texts_[slot] = ()
        self.metas_[slot] = None

    def compact(self) -> None:
        """Drop dead rows and slots, in place."""
        live = np.flatnonzero(self.live_[: self.n_slots_])
        lengths = self.length_[live].astype(np.int64)
        rows = ranges(self.start_[live], lengths)
        for array in self.rows_.values():
            move_down(array, rows)
        for name in ("length_", "role_counts_"):
            move_down(getattr(self, name), live)
        self.filters_.move_down(live)
        self.start_[: len(live)] = offsets(lengths)[:-1]
        self.live_[: len(live)] = True
        self.live_[len(live) :] = False
        self.n_rows_, self.dead_rows_, self.n_slots_ = len(rows), 0, len(live)
        self.keys_ = [self.keys_[s] for s in live]
        self.texts_ = [self.texts_[s] for s in live]
        self.metas_ = [self.metas_[s] for s in live]
        self.slot_of_ = {key: i for i, key in enumerate(self.keys_)}

    # ------------------------------------------------------------------ reads

    @property
    def live_rows(self) -> int:
        return self.n_rows_ - self.dead_rows_

    def live_row_numbers(self) -> np.ndarray:
        """Every live slot's rows, ascending."""
        n = self.n_slots_
        live = self.live_[:n]
        return ranges(self.start_[:n][live], self.length_[:n][live].astype(np.int64))

    def rows_of(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The slots' rows one after another, and each slot's row count (int64)."""
        lengths = self.length_[slots].astype(np.int64)
        return ranges(self.start_[slots], lengths), lengths

    def phrases_of(self, slots: np.ndarray) -> StackedPhrases:
        """The slots' phrases one after another, taken in one pass."""
        rows, lengths = self.rows_of(slots)
        return StackedPhrases(self.vectors.take(rows, axis=0), self.roles.take(rows), offsets(lengths))

    def vectors_of(self, key: str) -> ProfileVectors:
        """A copy of the stored vectors of `key` (KeyError if absent)."""
        slot = self.slot_of_[key]
        rows = slice(int(self.start_[slot]), int(self.start_[slot] + self.length_[slot]))
        return ProfileVectors(vectors=self.vectors[rows].copy(), roles=self.roles[rows].copy(), texts=self.texts_[slot])

    def keys_at(self, slots: np.ndarray) -> list[str]:
        return [self.keys_[s] for s in slots.tolist()]

    def allowed(self, filters: Sequence[CandidateFilter], slots: np.ndarray | slice) -> np.ndarray:
        """(filters × slots) bool: live slots with phrases that each filter lets through."""
        usable = self.live_[slots] & (self.length_[slots] > 0)
        excluded = [
            np.array([self.slot_of_[key] for key in f.exclude_keys if key in self.slot_of_], dtype=np.int64)
            for f in filters
        ]
        return self.filters_.allowed(filters, slots, usable, excluded)
