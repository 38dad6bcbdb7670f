"""Tuned hand-set priors: the grid search finds the prior that decides, and leaves useless ones at 0."""

import numpy as np

from matching.features import FEATURES
from matching.priors import GRID, PRIORS, tuned_priors
from matching.ranker import TrainingQuery, ranked
from matching.types import Kind

CITY = Kind.CITY
DIRECTION = (CITY, CITY)


def _query(i: int, rng: np.random.Generator, language_decides: bool) -> TrainingQuery:
    """Six candidates; the true one (c0) has a hand-set score a little below the best, and shares
    a language with the asker only when `language_decides`."""
    names = FEATURES[DIRECTION]
    n = 6
    raw = np.zeros((n, len(names)))
    handset = rng.uniform(0.3, 0.6, n)
    handset[0] = handset[1:].max() - 0.01
    raw[:, names.index("popularity")] = rng.normal(0, 0.05, n)
    if language_decides:
        raw[0, names.index("language")] = 1.0
    keys = tuple(f"q{i}-c{j}" for j in range(n))
    return TrainingQuery(DIRECTION, f"fold{i % 3}", f"q{i}", keys, raw, frozenset({keys[0]}), handset)


def test_the_grid_finds_the_prior_that_decides_and_improves_the_ranking():
    rng = np.random.default_rng(0)
    queries = [_query(i, rng, language_decides=True) for i in range(30)]
    priors = tuned_priors(queries)
    weights = dict(zip(PRIORS[DIRECTION], priors.weights))
    assert weights["language"] > 0
    for q in queries:
        assert ranked(q.candidates, q.handset)[0] != q.candidates[0]  # the hand-set score misses it
        assert ranked(q.candidates, priors.scores(q.handset, q.features))[0] == q.candidates[0]


def test_priors_that_do_not_help_stay_at_zero():
    rng = np.random.default_rng(1)
    queries = []
    for i in range(20):
        q = _query(i, rng, language_decides=False)
        handset = q.handset.copy()
        handset[0] = handset.max() + 0.05  # the hand-set score already finds every partner
        queries.append(TrainingQuery(q.direction, q.fold, q.key, q.candidates, q.features, q.relevant, handset))
    priors = tuned_priors(queries)
    assert priors.weights == (GRID[0],) * len(PRIORS[DIRECTION])


def test_no_usable_query_gives_no_priors():
    assert tuned_priors([]) is None
