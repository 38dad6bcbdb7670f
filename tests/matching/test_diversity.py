"""MMR: ten suggestions should not be ten near-copies of one partner."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.diversity import mmr_order


def unit_rows(rows) -> np.ndarray:
    v = np.asarray(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


SCORES = np.array([1.0, 0.95, 0.9, 0.5])
CENTROIDS = unit_rows([[1, 0, 0], [0.99, 0.14, 0], [0, 1, 0], [0, 0, 1]])  # 1 is a near-copy of 0


def test_no_diversity_keeps_the_score_order():
    assert [int(i) for i in mmr_order(SCORES, CENTROIDS, 4, 0.0)] == [0, 1, 2, 3]
    assert [int(i) for i in mmr_order(SCORES[[2, 0, 3, 1]], CENTROIDS[[2, 0, 3, 1]], 2, 0.0)] == [1, 3]


def test_a_near_copy_of_the_first_is_pushed_below_a_different_candidate():
    order = mmr_order(SCORES, CENTROIDS, 4, 0.3)
    assert order[:2] == [0, 2]
    assert order.index(1) > order.index(2)


def test_more_diversity_reaches_further_down_for_difference():
    assert mmr_order(SCORES, CENTROIDS, 3, 0.02) == [0, 1, 2]  # a little diversity keeps the near-copy
    assert mmr_order(SCORES, CENTROIDS, 3, 0.5) == [0, 2, 3]


def test_nothing_to_order_gives_nothing():
    assert mmr_order(np.zeros(0), np.zeros((0, 3)), 5, 0.5) == []
    assert mmr_order(np.zeros(0), np.zeros((0, 3)), 5, 0.0) == []


@st.composite
def candidates(draw):
    n = draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scores = np.array(draw(st.lists(st.floats(0, 1, allow_nan=False), min_size=n, max_size=n)))
    centroids = rng.normal(size=(n, 5))
    if draw(st.booleans()):  # duplicates are the case MMR exists for
        centroids[rng.integers(0, n, size=n // 2)] = centroids[0]
    return scores, centroids / np.linalg.norm(centroids, axis=1, keepdims=True)


@settings(max_examples=150, deadline=None)
@given(candidates(), st.integers(0, 15), st.floats(0, 1, allow_nan=False))
def test_the_result_has_no_duplicates_and_min_k_n_entries(cands, k, diversity):
    scores, centroids = cands
    order = mmr_order(scores, centroids, k, diversity)
    assert len(order) == min(k, len(scores))
    assert len(set(int(i) for i in order)) == len(order)
    assert all(0 <= i < len(scores) for i in order)


@settings(deadline=None)
@given(candidates(), st.integers(1, 15), st.floats(0, 0.99, allow_nan=False))
def test_the_best_scored_candidate_always_comes_first(cands, k, diversity):
    scores, centroids = cands
    assert scores[mmr_order(scores, centroids, k, diversity)[0]] == scores.max()
