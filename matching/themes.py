"""Tagging phrases with the nearest themes of the taxonomy, so people see what a match is about."""

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

    def __init__(
        self, themes: Sequence[Theme], vectors: np.ndarray, *, threshold: float = 0.42, per_phrase: int = 2
    ) -> None:
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
        return self.profile_themes_many([phrase_vectors])[0]

    def profile_themes_many(self, profiles: Sequence[np.ndarray]) -> list[dict[str, float]]:
        """`profile_themes` of each profile's phrase vectors, sorting all their phrases at once.

        The cosines stay one product per profile, as `tag` takes them: OpenBLAS picks its float32
        kernel by shape, so a stacked product could move a cosine by an ulp and a tie with it.
        """
        out: list[dict[str, float]] = [{} for _ in profiles]
        blocks = [p @ self.vectors.T for p in profiles if len(p)] if self.themes else []
        if not blocks:
            return out
        sims = np.concatenate(blocks)
        owner = np.repeat([i for i, p in enumerate(profiles) if len(p)], [len(b) for b in blocks])
        top = np.argsort(-sims, axis=1)[:, : self.per_phrase]
        top_sims = np.take_along_axis(sims, top, axis=1)
        rows, ranks = np.nonzero(top_sims >= self.threshold)
        # phrase by phrase, strongest theme first, as `tag` lists them; a theme's value starts at 0
        for i, j, sim in zip(owner[rows].tolist(), top[rows, ranks].tolist(), top_sims[rows, ranks].tolist()):
            theme = self.themes[j].id
            out[i][theme] = max(out[i].get(theme, 0.0), sim)
        return out

    def theme_matrix(self, profiles: Sequence[np.ndarray]) -> np.ndarray:
        """(profiles × themes) bool: the themes each profile touches, `profile_themes`' keys, for
        many profiles at once (each profile's cosines one product, as there)."""
        out = np.zeros((len(profiles), len(self.themes)), dtype=bool)
        used = [i for i, p in enumerate(profiles) if len(p)]
        if not used or not self.themes:
            return out
        sims = np.concatenate([profiles[i] @ self.vectors.T for i in used])
        top = np.argsort(-sims, axis=1)[:, : self.per_phrase]
        hit = np.zeros_like(sims, dtype=bool)
        np.put_along_axis(hit, top, np.take_along_axis(sims, top, axis=1) >= self.threshold, axis=1)
        starts = np.concatenate(([0], np.cumsum([len(profiles[i]) for i in used])[:-1]))
        out[used] = np.logical_or.reduceat(hit, starts, axis=0)
        return out

    def label(self, theme_id: str) -> str:
        return next((t.label for t in self.themes if t.id == theme_id), theme_id)
