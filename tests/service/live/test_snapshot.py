"""Cohort pairing scores and solves on a snapshot of its members, never holding the live index's lock."""

import json
from pathlib import Path

import numpy as np
import pytest

from matching.scoring import Kind
from service.domain import pairing
from service.live.index import SuggestionRequest
from tests.service.live.locks import lock_is_free

DATA = Path(__file__).resolve().parents[3] / "data"
DEMO = json.loads((DATA / "world-cities-eu-korea.json").read_text(encoding="utf-8"))
COHORT = "world-cities-eu-korea-2017-18"
EU = ["barcelona", "eindhoven", "scottish-cities-alliance", "tampere"]
KR = ["busan", "seoul", "suwon", "gwangju"]


@pytest.fixture
def demo(client, keys):
    assert client.post("/bundles", json=DEMO, headers=keys.auth("admin")).status_code == 200
    return client


def test_a_snapshot_scores_its_profiles_with_each_other_as_the_live_index_does(app, demo, keys):
    live = app.state.live
    recommender = live.recommender_ready()
    assert recommender.learns((Kind.CITY, Kind.CITY))  # the shipped ranker: usual scores and places matter
    snapshot = live.snapshot([*EU, *KR, "ghost"])
    assert sorted(snapshot.recommender.index.keys()) == sorted(EU + KR)
    assert snapshot.texts["eindhoven"].name == "Eindhoven"
    np.testing.assert_array_equal(snapshot.recommender.pair_scores(EU, KR), recommender.pair_scores(EU, KR))
    # a later write changes the live index, never the snapshot
    before = snapshot.recommender.index.vectors_of("eindhoven").texts
    h = keys.auth("admin")
    profile = demo.get("/profiles/eindhoven", headers=h).json()
    changed = {k: profile[k] for k in ("kind", "name", "country", "bloc", "description", "offers")}
    changed["interests"] = ["harbour logistics"]
    r = demo.put("/profiles/eindhoven", json=changed, headers=h | {"If-Match": f'"{profile["version"]}"'})
    assert r.status_code == 200, r.text
    assert recommender.index.vectors_of("eindhoven").texts[0] == "harbour logistics"
    assert snapshot.recommender.index.vectors_of("eindhoven").texts == before
    assert snapshot.texts["eindhoven"].interests != ("harbour logistics",)


def test_pairing_scores_and_solves_without_holding_the_lock(app, demo, keys, monkeypatch):
    live = app.state.live
    free: dict[str, bool] = {}
    answered: list[int] = []
    scores, solve = pairing.cohort_scores, pairing.optimal_pairing

    def scoring(*args, **kwargs):
        free["scoring"] = lock_is_free(live)
        return scores(*args, **kwargs)

    def solving(*args, **kwargs):
        free["solving"] = lock_is_free(live)
        with live.sessions() as session:  # a suggestion request served meanwhile
            answered.append(len(live.suggest_for(session, "seoul", SuggestionRequest(target=Kind.CITY))))
        return solve(*args, **kwargs)

    monkeypatch.setattr(pairing, "cohort_scores", scoring)
    monkeypatch.setattr(pairing, "optimal_pairing", solving)
    r = demo.post(f"/cohorts/{COHORT}/pairing", json={"partnerships": "ignore"}, headers=keys.auth("manager"))
    assert r.status_code == 200, r.text
    assert free == {"scoring": True, "solving": True} and answered and answered[0] > 0
