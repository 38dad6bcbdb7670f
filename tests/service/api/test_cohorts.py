"""Cohorts and pairing through the API; exclusions honoured by live suggestions, batch runs and pairing."""

import json
from pathlib import Path

import pytest

from service.batch.jobs import RerankParams, rerank

DATA = Path(__file__).resolve().parents[3] / "data"
DEMO = json.loads((DATA / "world-cities-eu-korea.json").read_text(encoding="utf-8"))
COHORT = "world-cities-eu-korea-2017-18"
REAL = {
    frozenset(p)
    for p in (
        ("barcelona", "busan"),
        ("scottish-cities-alliance", "suwon"),
        ("tampere", "gwangju"),
        ("eindhoven", "seoul"),
    )
}


@pytest.fixture
def demo(app, client, keys):
    assert client.post("/bundles", json=DEMO, headers=keys.auth("admin")).status_code == 200
    return client


def _pairs(body) -> set[frozenset[str]]:
    return {frozenset((p["a"], p["b"])) for p in body["pairs"]}


def test_cohorts_are_readable_by_every_key_and_written_by_managers(demo, keys):
    for role in ("admin", "manager", "member"):
        assert [c["id"] for c in demo.get("/cohorts", headers=keys.auth(role)).json()] == [COHORT]
    body = {"name": "Small", "sides": {"EU": ["eindhoven"], "KR": ["seoul", "busan"]}}
    assert demo.put("/cohorts/small", json=body, headers=keys.auth("member")).status_code == 403
    assert demo.put("/cohorts/small", json=body, headers=keys.auth("manager")).json()["sides"] == body["sides"]
    assert demo.get("/cohorts/small", headers=keys.auth("member")).json()["name"] == "Small"
    bad = {"name": "Bad", "sides": {"EU": ["eindhoven", "ghost"], "KR": ["seoul"]}}
    r = demo.put("/cohorts/bad", json=bad, headers=keys.auth("manager"))
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/sides/EU/1"
    one_side = {"name": "One", "sides": {"EU": ["eindhoven"]}}
    assert demo.put("/cohorts/one", json=one_side, headers=keys.auth("manager")).status_code == 422
    assert demo.delete("/cohorts/small", headers=keys.auth("member")).status_code == 403
    assert demo.delete("/cohorts/small", headers=keys.auth("manager")).status_code == 204
    assert demo.get("/cohorts/small", headers=keys.auth("manager")).status_code == 404


def test_pairing_from_scratch_recovers_the_real_pairs_with_reasons(demo, keys):
    r = demo.post(f"/cohorts/{COHORT}/pairing", json={"partnerships": "ignore"}, headers=keys.auth("manager"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert _pairs(body) == REAL
    assert body["total"] == pytest.approx(sum(p["score"] for p in body["pairs"]), abs=1e-5)
    for p in body["pairs"]:
        assert {m["direction"] for m in p["matches"]} == {"forward", "backward"}
    assert body["unpaired"] == []
    assert demo.post(f"/cohorts/{COHORT}/pairing", json={}, headers=keys.auth("member")).status_code == 403


def test_the_cohorts_agreed_pairs_stay_locked_by_default_and_options_apply(demo, keys):
    """The demo's pairings are filed under "World Cities 2017-18", the cohort is named otherwise:
    they are its programme's and so its own, agreed and locked."""
    h = keys.auth("manager")
    assert demo.get(f"/cohorts/{COHORT}", headers=h).json()["programme"] == "World Cities 2017-18"
    body = demo.post(f"/cohorts/{COHORT}/pairing", json={}, headers=h).json()
    assert body["programme"] == "World Cities 2017-18"
    assert _pairs(body) == REAL and all(p["locked"] for p in body["pairs"])
    assert body["unpaired"] == [] and body["second_partners"] == []
    locked = demo.post(
        f"/cohorts/{COHORT}/pairing",
        json={
            "partnerships": "ignore",
            "lock": [["eindhoven", "busan"]],
            "forbid": [["tampere", "gwangju"]],
            "capacity": {"seoul": 2},
        },
        headers=h,
    ).json()
    pairs = _pairs(locked)
    assert frozenset(("eindhoven", "busan")) in pairs and frozenset(("tampere", "gwangju")) not in pairs
    assert next(p for p in locked["pairs"] if {p["a"], p["b"]} == {"eindhoven", "busan"})["locked"]
    strict = demo.post(
        f"/cohorts/{COHORT}/pairing", json={"partnerships": "ignore", "min_score": 0.99}, headers=h
    ).json()
    assert strict["pairs"] == [] and len(strict["unpaired"]) == 8 and strict["unpaired"][0]["best_options"]
    assert all("reaches the minimum score 0.99" in u["reason"] for u in strict["unpaired"])
    bad = demo.post(f"/cohorts/{COHORT}/pairing", json={"lock": [["eindhoven", "tampere"]]}, headers=h)
    assert bad.status_code == 422 and "cross sides" in bad.json()["detail"]
    assert (
        demo.post(f"/cohorts/{COHORT}/pairing", json={"lock": [["eindhoven", "nobody"]]}, headers=h).status_code == 422
    )


def test_accept_is_idempotent_and_accepted_pairs_stay_locked(demo, keys):
    h = keys.auth("manager")
    assert (
        demo.put(
            "/cohorts/follow-up",
            json={"name": "Follow-up", "sides": {"EU": ["eindhoven", "tampere"], "KR": ["busan", "suwon"]}},
            headers=h,
        ).json()["programme"]
        is None
    )  # no partnership crosses its sides
    body = demo.post(f"/cohorts/{COHORT}/pairing", json={"partnerships": "ignore"}, headers=h).json()
    chosen = [[p["a"], p["b"]] for p in body["pairs"]]
    first = demo.post(f"/cohorts/{COHORT}/pairing/accept", json={"pairs": chosen}, headers=h).json()
    assert first["accepted"] == 4 and first["created"] == 0  # the demo already knew these partnerships
    new_cohort = {"name": "Follow-up", "sides": {"EU": ["eindhoven", "tampere"], "KR": ["busan", "suwon"]}}
    demo.put("/cohorts/follow-up", json=new_cohort, headers=h)
    proposal = demo.post("/cohorts/follow-up/pairing", json={}, headers=h).json()
    pairs = [[p["a"], p["b"]] for p in proposal["pairs"]]
    one = demo.post("/cohorts/follow-up/pairing/accept", json={"pairs": pairs}, headers=h).json()
    two = demo.post("/cohorts/follow-up/pairing/accept", json={"pairs": pairs}, headers=h).json()
    assert one["created"] == len(pairs) and two["created"] == 0 and two["accepted_by"] == one["accepted_by"]
    again = demo.post("/cohorts/follow-up/pairing", json={}, headers=h).json()
    assert all(p["locked"] for p in again["pairs"]) and _pairs(again) == {frozenset(p) for p in pairs}
    assert demo.get("/cohorts/follow-up", headers=h).json()["programme"] == "Follow-up"  # named after the cohort
    exported = demo.get("/bundles", headers=h).json()
    assert sum(1 for p in exported["partnerships"] if p["programme"] == "Follow-up") == len(pairs)
    assert next(c for c in exported["cohorts"] if c["id"] == "follow-up")["programme"] == "Follow-up"
    bad = demo.post("/cohorts/follow-up/pairing/accept", json={"pairs": [["eindhoven", "tampere"]]}, headers=h)
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/pairs/0"
    assert (
        demo.post("/cohorts/follow-up/pairing/accept", json={"pairs": pairs}, headers=keys.auth("member")).status_code
        == 403
    )


def test_exclusions_by_members_and_managers(demo, keys):
    r = demo.post(
        "/profiles/eindhoven/exclusions",
        json={"excluded": "busan", "reason": "we already cooperate"},
        headers=keys.auth("member"),
    )
    assert r.status_code == 201 and r.json()["excluded"] == "busan"
    assert (
        demo.post("/profiles/seoul/exclusions", json={"excluded": "busan"}, headers=keys.auth("member")).status_code
        == 403
    )
    assert (
        demo.post("/profiles/seoul/exclusions", json={"excluded": "busan"}, headers=keys.auth("manager")).status_code
        == 201
    )
    assert (
        demo.post(
            "/profiles/eindhoven/exclusions", json={"excluded": "eindhoven"}, headers=keys.auth("member")
        ).status_code
        == 422
    )
    assert (
        demo.post("/profiles/eindhoven/exclusions", json={"excluded": "ghost"}, headers=keys.auth("member")).status_code
        == 404
    )
    listed = demo.get("/profiles/eindhoven/exclusions", headers=keys.auth("member")).json()
    assert [(e["excluded"], e["reason"]) for e in listed] == [("busan", "we already cooperate")]
    # both directions
    assert [e["excluded"] for e in demo.get("/profiles/busan/exclusions", headers=keys.auth("manager")).json()] == [
        "eindhoven",
        "seoul",
    ]
    assert demo.delete("/profiles/eindhoven/exclusions/busan", headers=keys.auth("member")).status_code == 204
    assert demo.delete("/profiles/eindhoven/exclusions/busan", headers=keys.auth("member")).status_code == 404


def test_rejected_suggestion_disappears_everywhere_and_can_be_undone(app, demo, keys):
    h = keys.auth("manager")
    before = [
        s["id"] for s in demo.get("/profiles/eindhoven/suggestions?target=organisation", headers=h).json()["items"]
    ]
    victim = before[0]
    r = demo.post(
        f"/profiles/eindhoven/suggestions/{victim}/reject", json={"reason": "not relevant"}, headers=keys.auth("member")
    )
    assert r.status_code == 201
    live = [
        s["id"]
        for s in demo.get("/profiles/eindhoven/suggestions?target=organisation&source=live", headers=h).json()["items"]
    ]
    assert victim not in live
    run = rerank(app.state.settings, app.state.sessions, RerankParams())
    batch = demo.get("/profiles/eindhoven/suggestions?target=organisation&source=batch", headers=h).json()
    assert batch["run_id"] == run.id and victim not in [s["id"] for s in batch["items"]]
    # excluded after the run: the stored ranking is filtered as it is served
    second = batch["items"][0]["id"]
    demo.post("/profiles/eindhoven/exclusions", json={"excluded": second}, headers=h)
    batch = demo.get("/profiles/eindhoven/suggestions?target=organisation&source=batch", headers=h).json()
    assert second not in [s["id"] for s in batch["items"]]
    demo.delete(f"/profiles/eindhoven/exclusions/{victim}", headers=h)
    assert victim in [
        s["id"]
        for s in demo.get("/profiles/eindhoven/suggestions?target=organisation&source=live", headers=h).json()["items"]
    ]


def test_exclusions_are_honoured_by_pairing(demo, keys):
    h = keys.auth("manager")
    demo.post("/profiles/eindhoven/exclusions", json={"excluded": "seoul"}, headers=h)
    body = demo.post(f"/cohorts/{COHORT}/pairing", json={"partnerships": "ignore"}, headers=h).json()
    assert frozenset(("eindhoven", "seoul")) not in _pairs(body)


def test_bundle_exclusions_import(demo, keys):
    bundle = {
        "format": "twinning.bundle/1",
        "exclusions": [{"profile": "busan", "excluded": "tampere", "reason": "already cooperating bilaterally"}],
    }
    assert demo.post("/bundles", json=bundle, headers=keys.auth("manager")).json()["exclusions"] == 1
    ids = [
        s["id"] for s in demo.get("/profiles/tampere/suggestions?k=10", headers=keys.auth("manager")).json()["items"]
    ]
    assert "busan" not in ids
    assert any(
        e["profile"] == "busan" or e["excluded"] == "busan"
        for e in demo.get("/bundles", headers=keys.auth("manager")).json()["exclusions"]
    )


def test_a_pairing_giving_a_city_a_second_partner_in_the_programme_is_warned_and_needs_confirming(demo, keys):
    """A second cohort of the same programme: the first cohort's pair among its members is a past
    partnership (forbidden), and any new pair gives its cities a second partner in the programme."""
    h = keys.auth("manager")
    cohort = {
        "name": "World Cities second round",
        "programme": "World Cities 2017-18",
        "sides": {"EU": ["eindhoven", "tampere"], "KR": ["seoul", "busan"]},
    }
    assert demo.put("/cohorts/second", json=cohort, headers=h).json()["programme"] == "World Cities 2017-18"
    body = demo.post("/cohorts/second/pairing", json={}, headers=h).json()
    assert frozenset(("eindhoven", "seoul")) not in _pairs(body)  # the first cohort's: forbidden here
    assert not any(p["locked"] for p in body["pairs"])
    warned = {(w["city"], w["partner"]): w["already"] for w in body["second_partners"]}
    expected_already = {"eindhoven": ["seoul"], "seoul": ["eindhoven"], "tampere": ["gwangju"], "busan": ["barcelona"]}
    assert warned and all(already == expected_already[city] for (city, _), already in warned.items())
    pairs = [[p["a"], p["b"]] for p in body["pairs"]]
    refused = demo.post("/cohorts/second/pairing/accept", json={"pairs": pairs}, headers=h)
    assert refused.status_code == 409 and "allow_second_partner" in refused.json()["detail"]
    assert {e["pointer"] for e in refused.json()["errors"]} == {f"/pairs/{i}" for i in range(len(pairs))}
    stored = demo.get("/bundles", headers=h).json()["partnerships"]
    assert not {frozenset((p["a"], p["b"])) for p in stored} & _pairs(body)  # nothing was stored
    done = demo.post(
        "/cohorts/second/pairing/accept", json={"pairs": pairs, "allow_second_partner": True}, headers=h
    ).json()
    assert done["created"] == len(pairs)
    again = demo.post("/cohorts/second/pairing", json={}, headers=h).json()
    assert _pairs(again) == _pairs(body) and all(p["locked"] for p in again["pairs"])
    first = demo.post(f"/cohorts/{COHORT}/pairing", json={}, headers=h).json()
    assert _pairs(first) == REAL  # the second round's pairs are the first cohort's past partnerships


def test_an_agreed_pair_excluded_or_forbidden_by_the_options_is_no_longer_kept(demo, keys):
    """The exclusion or the manager's forbid wins over the cohort's agreed pair: the board shows the
    alternatives rather than refusing a contradiction it cannot resolve."""
    h = keys.auth("manager")
    forbidden = demo.post(f"/cohorts/{COHORT}/pairing", json={"forbid": [["seoul", "eindhoven"]]}, headers=h)
    assert forbidden.status_code == 200, forbidden.text
    assert frozenset(("eindhoven", "seoul")) not in _pairs(forbidden.json())
    assert demo.post("/profiles/eindhoven/exclusions", json={"excluded": "seoul"}, headers=h).status_code == 201
    excluded = demo.post(f"/cohorts/{COHORT}/pairing", json={}, headers=h)
    assert excluded.status_code == 200, excluded.text
    pairs = _pairs(excluded.json())
    assert frozenset(("eindhoven", "seoul")) not in pairs and REAL - {frozenset(("eindhoven", "seoul"))} <= pairs
