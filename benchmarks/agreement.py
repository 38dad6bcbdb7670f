"""How often a fast path's top-k is the exhaustive one, per direction: cities and organisations asking for either."""

from collections.abc import Callable

import numpy as np

from matching.types import Kind

__all__ = ["identical_by_direction"]

# (profile key, its kind, the target) → (the fast path's keys, the exhaustive path's keys), in order
Lists = Callable[[str, Kind, Kind], tuple[list[str], list[str]]]


def identical_by_direction(
    keys_by_kind: dict[Kind, list[str]], lists: Lists, per_kind: int, rng: np.random.Generator
) -> dict[str, float]:
    """Per direction ("city→organisation", …), the share of sampled profiles whose two lists are equal key for key.

    The same profiles of a kind are asked for both targets.
    """
    out = {}
    for kind, keys in keys_by_kind.items():
        picked = [keys[i] for i in rng.choice(len(keys), min(per_kind, len(keys)), replace=False)]
        for target in (Kind.CITY, Kind.ORGANISATION):
            same = sum(fast == exact for fast, exact in (lists(key, kind, target) for key in picked))
            out[f"{kind.value}→{target.value}"] = same / len(picked)
    return out
