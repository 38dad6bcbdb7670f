"""The phrase vectors of one profile, and what each phrase is (interest, offer, description)."""

from dataclasses import dataclass

import numpy as np

from matching.types import PhraseRole

__all__ = ["ProfileVectors", "StackedPhrases", "stacked"]


@dataclass(frozen=True)
class ProfileVectors:
    """One profile's phrases as contiguous float32 unit rows, with each phrase's role and text.

    `texts` are kept beside the vectors because explanations quote them.
    """

    vectors: np.ndarray  # (n, dim) float32, unit rows
    roles: np.ndarray  # (n,) int8 PhraseRole
    texts: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or not (self.vectors.shape[0] == len(self.roles) == len(self.texts)):
            raise ValueError("vectors, roles and texts must have one entry per phrase")

    @classmethod
    def from_phrases(
        cls,
        interests: list[str],
        offers: list[str],
        description: list[str],
        vectors: np.ndarray,
    ) -> "ProfileVectors":
        """Build from the three phrase lists and their vectors stacked in the same order."""
        roles = np.array(
            [PhraseRole.INTEREST] * len(interests)
            + [PhraseRole.OFFER] * len(offers)
            + [PhraseRole.DESCRIPTION] * len(description),
            dtype=np.int8,
        )
        return cls(
            vectors=np.ascontiguousarray(vectors, dtype=np.float32),
            roles=roles,
            texts=tuple(interests) + tuple(offers) + tuple(description),
        )

    def __len__(self) -> int:
        return len(self.roles)


@dataclass(frozen=True)
class StackedPhrases:
    """Several profiles' phrases one after another (float32 vectors and roles), and each profile's
    first row followed by the total (offsets, as `coverage_block` takes them)."""

    vectors: np.ndarray
    roles: np.ndarray
    offsets: np.ndarray

    @classmethod
    def of(cls, profiles: "list[ProfileVectors]") -> "StackedPhrases":
        if not profiles:
            return cls(np.zeros((0, 0), dtype=np.float32), np.zeros(0, dtype=np.int8), np.zeros(1, dtype=np.int64))
        offsets = np.concatenate(([0], np.cumsum([len(p) for p in profiles]))).astype(np.int64)
        return cls(np.concatenate([p.vectors for p in profiles]), np.concatenate([p.roles for p in profiles]), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def vectors_of(self, i: int) -> np.ndarray:
        """The i-th profile's phrase vectors (a view)."""
        return self.vectors[self.offsets[i] : self.offsets[i + 1]]


def stacked(profiles: "list[ProfileVectors]") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`StackedPhrases.of` in float64 (for exact cosines): vectors, roles, offsets."""
    phrases = StackedPhrases.of(profiles)
    return phrases.vectors.astype(np.float64), phrases.roles, phrases.offsets
