"""What the cohort board pictures: the scores the pairing was solved on, its pairs' states, and the
interests no member of the other side serves closely."""

import json
from pathlib import Path

import numpy as np
import pytest

from matching.explain import need_best_cosines
from matching.scoring import Kind
from service.domain.cohorts import get_cohort
from service.domain.pairing import cohort_board, pair_reasons, pairing_view
from service.errors import NotFound
from service.schemas import PairingRequest

DATA = Path(__file__).resolve().parents[3] / "data"
DEMO = json.loads((DATA / "world-cities-eu-korea.json").read_text(encoding="utf-8"))
COHORT = "world-cities-eu-korea-2017-18"
EU = ["barcelona", "eindhoven", "scottish-cities-alliance", "tampere"]
KR = ["busan", "seoul", "suwon", "gwangju"]


@pytest.fixture
def demo(client, keys):
    assert client.post("/bundles", json=DEMO, headers=keys.auth("admin")).status_code == 200
    return client


def _board(app, options: PairingRequest):
    with app.state.sessions() as session:
        cohort = get_cohort(session=session, cohort_id=COHORT)
        return cohort_board(session=session, live=app.state.live, cohort=cohort, options=options)


def test_the_grid_holds_the_scores_the_pairing_was_solved_on(app, demo):
    board = _board(app, PairingRequest(partnerships="ignore"))
    (grid,) = board.grids
    assert (grid.rows, grid.cols) == (tuple(EU), tuple(KR))
    expected = app.state.live.snapshot(EU + KR).recommender.pair_scores(EU, KR)
    np.testing.assert_allclose(np.array(grid.scores), expected, atol=1e-6)
    for p in board.pairing.pairs:
        assert board.score(p.a, p.b) == board.score(p.b, p.a) == pytest.approx(p.score, abs=1e-6)
    assert board.proposed == {frozenset((p.a, p.b)) for p in board.pairing.pairs}
    assert board.score("eindhoven", "tampere") is None  # one side: never a pair
    # the API's proposal is the board's, solved once
    with app.state.sessions() as session:
        cohort = get_cohort(session=session, cohort_id=COHORT)
        assert (
            pairing_view(
                session=session, live=app.state.live, cohort=cohort, options=PairingRequest(partnerships="ignore")
            ).pairs
            is board.pairing.pairs
        )


def test_a_pair_forbidden_by_the_options_is_marked_forbidden_and_never_proposed(app, demo):
    board = _board(app, PairingRequest(partnerships="ignore", forbid=[["eindhoven", "busan"]]))
    assert board.forbidden == {frozenset(("eindhoven", "busan"))}
    assert frozenset(("eindhoven", "busan")) not in board.proposed
    assert board.agreed == frozenset()  # nothing accepted for this cohort yet


def test_unserved_interests_are_those_below_the_no_close_match_similarity(app, demo):
    board = _board(app, PairingRequest())
    recommender = app.state.live.snapshot(EU + KR).recommender
    assert board.close_at == recommender.ranker.match_threshold > 0
    expected = set()
    for side, others in ((EU, KR), (KR, EU)):
        vectors = [recommender.index.vectors_of(m) for m in others]
        for city in side:
            own = recommender.index.vectors_of(city)
            best = need_best_cosines((Kind.CITY, Kind.CITY), own, vectors, recommender.params).max(axis=1)
            interests = own.texts[: len(best)]  # a city's interests come first, and are its needs
            expected |= {(city, need) for need, b in zip(interests, best) if b < board.close_at}
    assert {(u.city, u.interest) for u in board.unserved} == expected
    assert expected  # the demo has some: the test checks a real list
    for u in board.unserved:
        assert u.best < board.close_at and u.best_by in (KR if u.city in EU else EU)


def test_any_pair_of_the_grid_is_explained_with_the_grids_score(app, demo):
    board = _board(app, PairingRequest(partnerships="ignore"))
    shown = {frozenset((p.a, p.b)) for p in board.pairing.pairs}
    a, b = next((a, b) for a in EU for b in KR if frozenset((a, b)) not in shown)
    why = pair_reasons(live=app.state.live, board=board, a=a, b=b)
    assert (why.a, why.b, why.score, why.locked) == (a, b, board.score(a, b), False)
    assert {m.direction for m in why.matches} == {"forward", "backward"}
    with pytest.raises(NotFound):
        pair_reasons(live=app.state.live, board=board, a="eindhoven", b="tampere")
