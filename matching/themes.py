"""Tagging phrases with the nearest themes of the taxonomy, so people see what a match is about."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Theme", "ThemeTagger"]


@dataclass(frozen=True)
class Theme:
    id: str
    label: str
    definition: str

    @property
    def text(self) -> str:
        """What is embedded for a theme: its label and definition together."""
        return f"{self.label}: {self.definition}"


class ThemeTagger:
    """Each phrase gets up to `per_phrase` themes whose cosine reaches `threshold`."""

    def __init__(self, themes: Sequence[Theme], vectors: np.ndarray, *, threshold: float = 0.42, per_phrase: int = 2) -> None:
        self.themes = list(themes)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.threshold = threshold
        self.per_phrase = per_phrase

    def tag(self, phrase_vectors: np.ndarray) -> list[list[tuple[str, float]]]:
        """For each phrase, its themes as (theme id, cosine), strongest first."""
        if len(phrase_vectors) == 0 or not self.themes:
            return [[] for _ in range(len(phrase_vectors))]
        sims = phrase_vectors @ self.vectors.T
        top = np.argsort(-sims, axis=1)[:, : self.per_phrase]
        return [
            [(self.themes[j].id, float(sims[i, j])) for j in top[i] if sims[i, j] >= self.threshold]
            for i in range(len(phrase_vectors))
        ]

    def profile_themes(self, phrase_vectors: np.ndarray) -> dict[str, float]:
        """Each theme a profile touches, with the strongest cosine among its phrases."""
        out: dict[str, float] = defaultdict(float)
        for tags in self.tag(phrase_vectors):
            for theme, sim in tags:
                out[theme] = max(out[theme], sim)
        return dict(out)

    def label(self, theme_id: str) -> str:
        return next((t.label for t in self.themes if t.id == theme_id), theme_id)
