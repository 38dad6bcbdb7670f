"""Candidate filters over the index's slots: each profile's filterable metadata as small integer
codes per slot, so that a filter is a few vectorised comparisons.
"""

from collections.abc import Sequence

import numpy as np

from matching.arrays import grown, move_down
from matching.types import KINDS, CandidateFilter, ProfileMeta

__all__ = ["Vocabulary", "FilterColumns"]


class Vocabulary:
    """Strings to small ints, growing as values are seen; 0 stands for None."""

    def __init__(self) -> None:
        self.id_of: dict[str | None, int] = {None: 0}

    def add(self, value: str | None) -> int:
        found = self.id_of.get(value)
        if found is None:
            found = self.id_of[value] = len(self.id_of)
        return found

    def get(self, value: str | None) -> int:
        """The id, or -1 for a value never stored (it matches no profile)."""
        return self.id_of.get(value, -1)


# (filter field, metadata column, comparison): `exclude_bloc` reads the bloc column
_FIELDS = (
    ("bloc", "bloc", np.equal),
    ("exclude_bloc", "bloc", np.not_equal),
    ("country", "country", np.equal),
    ("org_type", "org_type", np.equal),
    ("city", "city", np.equal),
)
_DTYPES = {"kind": np.int8, "bloc": np.int16, "country": np.int16, "org_type": np.int16, "city": np.int32}


class FilterColumns:
    """Per slot: the kind, bloc, country, organisation type and home city, as codes."""

    def __init__(self, capacity: int) -> None:
        self.columns_ = {name: np.empty(capacity, dtype=dtype) for name, dtype in _DTYPES.items()}
        self.vocabularies_ = {name: Vocabulary() for name in _DTYPES if name != "kind"}

    def grow(self, capacity: int, used: int) -> None:
        for name, column in self.columns_.items():
            self.columns_[name] = grown(column, capacity, used)

    def set(self, at: slice, metas: Sequence[ProfileMeta]) -> None:
        """Code the metadata of the slots at `at`."""
        self.columns_["kind"][at] = [KINDS.index(m.kind) for m in metas]
        for name, ids in self.vocabularies_.items():
            self.columns_[name][at] = [ids.add(getattr(m, name)) for m in metas]

    def move_down(self, live: np.ndarray) -> None:
        """Keep the slots at `live` (ascending), moved to the front: for compaction."""
        for column in self.columns_.values():
            move_down(column, live)

    def allowed(
        self,
        filters: Sequence[CandidateFilter],
        slots: np.ndarray | slice,
        usable: np.ndarray,
        excluded: Sequence[np.ndarray],
    ) -> np.ndarray:
        """(filters × slots) bool: the filters' rules at ascending slots, or at a slice of them read
        in place. `usable` marks the slots that can be suggested at all (live, with phrases);
        `excluded[i]` are the slots filter i excludes by key."""
        kind = self.columns_["kind"][slots]
        by_kind = np.stack([usable & (kind == code) for code in range(len(KINDS))])
        out = by_kind[[KINDS.index(f.kind) for f in filters]]
        for name, column_name, compare in _FIELDS:
            asked = [i for i, f in enumerate(filters) if getattr(f, name) is not None]
            if not asked:
                continue
            ids = self.vocabularies_[column_name]
            column = self.columns_[column_name][slots]
            wanted = np.array([ids.get(getattr(filters[i], name)) for i in asked])[:, None]
            if len(asked) == len(filters):  # in place: the batch's city pairings all exclude their bloc
                out &= compare(column, wanted)
            else:
                out[asked] &= compare(column, wanted)
        for i, f in enumerate(filters):
            if f.countries is not None:
                wanted_countries = [self.vocabularies_["country"].get(c) for c in f.countries]
                out[i] &= np.isin(self.columns_["country"][slots], wanted_countries)
            out[i, _positions(slots, excluded[i])] = False
        return out


def _positions(slots: np.ndarray | slice, wanted: np.ndarray) -> np.ndarray:
    """Where the wanted slots sit among ascending `slots` (a slice from 0: at themselves); absent ones dropped."""
    if isinstance(slots, slice):
        return wanted[wanted < slots.stop]
    at = np.searchsorted(slots, wanted)
    return at[(at < len(slots)) & (slots[np.minimum(at, len(slots) - 1)] == wanted)]
