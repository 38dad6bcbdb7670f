"""Code presence: what city ↔ city shortlists look up instead of computing."""

import numpy as np
import pytest

from matching.presence import CodePresence, best_columns
from matching.scoring import ScoringParams
from tests.matching.test_batch import corpus_index  # noqa: F401  (the module-scoped fixture)
from tests.matching.test_index import CITY_CITY, ORG_CITY

PARAMS = ScoringParams()


def test_city_queries_presence_is_looked_up_from_the_candidates_matrix(corpus_index):  # noqa: F811
    entries, index = corpus_index
    presence = CodePresence(index, "city", CITY_CITY.target_serves, PARAMS)
    slots = np.array([index.slot(k) for k, v, m in entries[:300] if m.kind == "city" and len(v)])
    looked_up = presence._query_presence(slots, CITY_CITY.query_serves)
    assert looked_up.shape == (len(slots), presence.n_codes)
    assert looked_up == pytest.approx(presence.presence(slots, CITY_CITY.query_serves), abs=1e-5)


def test_queries_outside_the_candidates_get_their_presence_computed(corpus_index):  # noqa: F811
    entries, index = corpus_index
    presence = CodePresence(index, "city", ORG_CITY.target_serves, PARAMS)
    key, vectors, _ = next(e for e in entries if e[2].kind == "organisation" and len(e[1]))
    assert index.slot(key) not in presence.candidates_
    computed = presence._query_presence(np.array([index.slot(key)]), CITY_CITY.query_serves)[0]
    weights = np.where(vectors.roles == 2, PARAMS.description_weight, 1.0)  # every role serves
    expected = ((vectors.vectors * weights[:, None]) @ presence.centres_.T).max(axis=0)
    assert computed == pytest.approx(expected, abs=1e-5)


def _best_by_sorting(row: np.ndarray, size: int) -> np.ndarray:
    finite = np.flatnonzero(np.isfinite(row))
    order = sorted(finite.tolist(), key=lambda c: (-row[c], c))  # best first, ties to the first column
    return np.sort(np.array(order[:size], dtype=np.int64))


def test_best_columns_are_the_largest_ties_to_the_first_column_and_skip_minus_infinity():
    rng = np.random.default_rng(3)
    scores = rng.random((40, 5_000)).astype(np.float32)
    scores[1:4, 100:900] = 2.0  # ties across the cut: the first columns win
    scores[5] = -np.inf
    scores[5, [7, 70, 700]] = 0.5  # fewer allowed than asked: all of them
    scores[6, ::16] += 3.0  # every sampled column is best: the sample's threshold lets too few through
    scores[7, 1::16] += 3.0  # no sampled column is best: the threshold lets many through
    scores[8, rng.random(5_000) < 0.5] = -np.inf
    picked = best_columns(scores, 300)
    for row, got in zip(scores, picked):
        assert got.tolist() == _best_by_sorting(row, 300).tolist()


def test_best_columns_of_narrow_rows_are_every_finite_one():
    scores = np.array([[0.3, -np.inf, 0.1], [0.2, 0.2, 0.2]], dtype=np.float32)
    assert [c.tolist() for c in best_columns(scores, 5)] == [[0, 2], [0, 1, 2]]
    assert [c.tolist() for c in best_columns(scores, 2)] == [[0, 2], [0, 1]]
    assert best_columns(np.zeros((2, 0), dtype=np.float32), 3)[0].tolist() == []


def test_a_matrix_filled_part_by_part_is_the_one_built_at_once(corpus_index):  # noqa: F811
    _, index = corpus_index
    whole = CodePresence(index, "city", CITY_CITY.target_serves, PARAMS)
    parts = CodePresence(
        index,
        "city",
        CITY_CITY.target_serves,
        PARAMS,
        allocate=lambda shape: np.full(shape, np.nan, np.float32),
        fill=False,
    )
    for part in parts.parts(size=100):
        parts.fill(part)
    assert len(parts.parts(size=100)) > 1
    assert np.array_equal(parts.presence_t_, whole.presence_t_)
