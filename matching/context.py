"""What the learned ranker knows of stored profiles beyond their phrase vectors: where each is,
its usual score as a candidate, the taxonomy themes it touches. Kept in step with every write
(by `Recommender.apply_write`), and turned into a candidate list's raw features (`matching.features`)."""

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from matching.features import FEATURES, Direction, PairInputs, Place, pair_features
from matching.index import PhraseIndex
from matching.popularity import UsualScores
from matching.scoring import ScoringParams
from matching.themes import ThemeTagger
from matching.vectors import ProfileVectors, StackedPhrases

__all__ = ["ProfileContext"]


class ProfileContext:
    """Places and usual scores (fitted on first need: a hand-set engine never needs them) of an
    index's profiles; themes are tagged per candidate list, one vectorised pass."""

    def __init__(
        self, index: PhraseIndex, params: ScoringParams, tagger: ThemeTagger | None, places: Mapping[str, Place]
    ) -> None:
        self.index = index
        self.params = params
        self.tagger = tagger
        self.places: dict[str, Place] = dict(places)
        self._languages = {p.country: p.languages for p in self.places.values()}
        self._usual: UsualScores | None = None

    @property
    def usual(self) -> UsualScores:
        if self._usual is None:
            self._usual = UsualScores().fit(self.index, self.params)
        return self._usual

    @property
    def fitted_usual(self) -> UsualScores | None:
        """The usual scores if fitted yet (a hand-set engine never fits them), without fitting them."""
        return self._usual

    def use_usual(self, usual: UsualScores) -> None:
        """Score with these usual scores from now on (made on a copy beside readers, then swapped in)."""
        self._usual = usual

    def add_places(self, places: Mapping[str, Place]) -> None:
        for key, place in places.items():
            self.places[key] = place
            self._languages.setdefault(place.country, place.languages)

    def drop_places(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.places.pop(key, None)

    def countries_sharing_a_language(self, place: Place) -> frozenset[str]:
        """The stored profiles' countries with an official language in common with `place`'s."""
        return frozenset(c for c, languages in self._languages.items() if languages & place.languages)

    def features(
        self,
        direction: Direction,
        *,
        key: str | None,
        vectors: ProfileVectors,
        place: Place | None,
        partners: frozenset[str],
        candidates: Sequence[str],
        dense: np.ndarray,
        lexical: np.ndarray,
    ) -> np.ndarray:
        """(candidates × FEATURES[direction]) raw features of a query with stored candidates."""
        profiles = self.index.stacked_of(candidates)
        inputs = PairInputs(
            key=key,
            vectors=vectors,
            place=place,
            partners=partners,
            candidate_keys=candidates,
            candidates=profiles,
            dense=np.asarray(dense, dtype=np.float64),
            lexical=np.asarray(lexical, dtype=np.float64),
            usual=self.usual.of(direction[0], direction[1], candidates),
            themes=self._shared_theme_counts(vectors, profiles) if "themes" in FEATURES[direction] else np.zeros(0),
        )
        return pair_features(direction, inputs, self.places, self.params)

    def _shared_theme_counts(self, vectors: ProfileVectors, candidates: StackedPhrases) -> np.ndarray:
        if self.tagger is None:
            return np.zeros(len(candidates))
        themes = self.tagger.theme_matrix(
            [vectors.vectors, *(candidates.vectors_of(i) for i in range(len(candidates)))]
        )
        return (themes[1:] & themes[0]).sum(axis=1).astype(np.float64)
