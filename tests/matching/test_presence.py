"""Code presence: what city ↔ city shortlists look up instead of computing."""

import numpy as np
import pytest

from matching.presence import CodePresence
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
