"""Theme tagging: each phrase gets its nearest themes above the threshold, a profile the strongest of each."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.themes import Theme, ThemeTagger

THEMES = [Theme(f"theme-{i}", f"Theme {i}", "A topic.") for i in range(6)]


def unit_rows(rng: np.random.Generator, n: int, dim: int = 8) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def tagger() -> ThemeTagger:
    return ThemeTagger(THEMES, unit_rows(np.random.default_rng(0), len(THEMES)), threshold=0.3, per_phrase=2)


def test_a_phrase_gets_at_most_per_phrase_themes_above_the_threshold_strongest_first(tagger):
    phrases = np.concatenate([tagger.vectors[:2], -tagger.vectors[:1]])
    first, second, opposite = tagger.tag(phrases)
    assert first[0] == ("theme-0", pytest.approx(1.0)) and len(first) <= 2
    assert second[0][0] == "theme-1"
    assert all(sim >= 0.3 for _, sim in first + second)
    assert "theme-0" not in [t for t, _ in opposite]


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.lists(st.integers(0, 7), max_size=5),
    threshold=st.sampled_from([-1.0, 0.0, 0.3, 0.6]),
    per_phrase=st.integers(1, 3),
)
def test_profile_themes_are_each_themes_strongest_tag_and_the_same_profile_by_profile(
    seed, sizes, threshold, per_phrase
):
    rng = np.random.default_rng(seed)
    tagger = ThemeTagger(THEMES, unit_rows(rng, len(THEMES)), threshold=threshold, per_phrase=per_phrase)
    pool = unit_rows(rng, 4)  # few distinct phrases, so that equal cosines occur
    profiles = [pool[rng.integers(0, len(pool), n)] for n in sizes]
    for phrases in profiles:
        strongest: dict[str, float] = {}
        for tags in tagger.tag(phrases):
            for theme, sim in tags:
                strongest[theme] = max(strongest.get(theme, 0.0), sim)
        assert tagger.profile_themes(phrases) == strongest
    assert tagger.profile_themes_many(profiles) == [tagger.profile_themes(p) for p in profiles]
