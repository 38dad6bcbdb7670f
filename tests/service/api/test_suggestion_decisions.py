"""Deciding on several suggestions at once through the API, both databases: each item is the single
accept or reject, with its rules, and each refusal is reported with the problem that decision answers."""

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from service.auth import Role, create_key
from service.db.engine import session_scope
from service.db.models import Exclusion, Partnership, PartnershipProposal

DATA = Path(__file__).resolve().parents[3] / "data"
DEMO = json.loads((DATA / "world-cities-eu-korea.json").read_text(encoding="utf-8"))


@pytest.fixture
def demo(client, keys):
    assert client.post("/bundles", json=DEMO, headers=keys.auth("admin")).status_code == 200
    return client


@pytest.fixture
def busan(app, demo) -> dict[str, str]:
    with session_scope(app.state.sessions) as session:
        secret = create_key(session, role=Role.MEMBER, profile_id="busan", name="Busan")[0]
    return {"Authorization": f"Bearer {secret}"}


def pairs(app, model) -> set[frozenset[str]]:
    with app.state.sessions() as session:
        return {frozenset((row.a, row.b)) for row in session.scalars(select(model))}


def test_a_members_bulk_accept_proposes_each_and_reports_every_refusal_as_its_single_accept_would(
    app, demo, keys, busan
):
    eindhoven = keys.auth("member")
    manager = keys.auth("manager")
    assert demo.post("/profiles/eindhoven/exclusions", json={"excluded": "tampere"}, headers=manager).status_code == 201
    assert demo.post("/profiles/busan/suggestions/eindhoven/accept", headers=busan).json()["state"] == "proposed"
    single = demo.post("/profiles/eindhoven/suggestions/tampere/accept", headers=eindhoven)
    assert single.status_code == 409

    body = {"action": "accept", "others": ["gwangju", "tampere", "busan", "nowhere", "eindhoven"]}
    r = demo.post("/profiles/eindhoven/suggestions/decisions", json=body, headers=eindhoven)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["profile"] == "eindhoven" and report["action"] == "accept"
    got = [(i["other"], i["outcome"], i["status"]) for i in report["items"]]
    assert got == [
        ("gwangju", "proposed", 200),
        ("tampere", "refused", 409),
        ("busan", "agreed", 200),  # Busan had proposed: Eindhoven's accept confirms it
        ("nowhere", "refused", 404),
        ("eindhoven", "refused", 422),
    ]
    tampere = report["items"][1]
    assert (tampere["title"], tampere["detail"]) == (single.json()["title"], single.json()["detail"])
    said = [{k: v for k, v in e.items() if v is not None} for e in tampere["errors"]]
    assert said == single.json()["errors"] == [{"pointer": "/other", "detail": "excluded"}]
    assert report["items"][0]["detail"] is None and report["items"][0]["errors"] == []
    assert pairs(app, PartnershipProposal) == {frozenset(("eindhoven", "gwangju"))}
    assert frozenset(("eindhoven", "busan")) in pairs(app, Partnership)
    assert frozenset(("eindhoven", "tampere")) not in pairs(app, Partnership) | pairs(app, PartnershipProposal)


def test_a_bulk_reject_excludes_each_with_the_one_reason_and_declines_a_proposal(app, demo, keys, busan):
    eindhoven = keys.auth("member")
    assert demo.post("/profiles/busan/suggestions/eindhoven/accept", headers=busan).status_code == 200
    body = {"action": "reject", "others": ["busan", "suwon"], "reason": "outside our themes\nthis year"}
    r = demo.post("/profiles/eindhoven/suggestions/decisions", json=body, headers=eindhoven)
    assert [(i["other"], i["outcome"]) for i in r.json()["items"]] == [("busan", "excluded"), ("suwon", "excluded")]
    assert pairs(app, PartnershipProposal) == set()
    with app.state.sessions() as session:
        reasons = {e.other_than("eindhoven"): e.reason for e in session.scalars(select(Exclusion))}
    assert reasons == {"busan": "outside our themes\nthis year", "suwon": "outside our themes\nthis year"}
    # the other side learns that the exclusion exists, not its reason, as after a single reject
    (seen,) = demo.get("/profiles/busan/exclusions", headers=busan).json()
    assert (seen["excluded"], seen["reason"], seen["removable"]) == ("eindhoven", None, False)
    # and cannot undo it in bulk either: a bulk reject of its own only repeats what holds
    r = demo.post(
        "/profiles/busan/suggestions/decisions", json={"action": "reject", "others": ["eindhoven"]}, headers=busan
    )
    assert r.json()["items"][0]["outcome"] == "excluded"
    assert demo.get("/profiles/eindhoven/exclusions", headers=eindhoven).json()[0]["reason"].startswith("outside")


def test_a_member_decides_in_bulk_for_its_own_profile_only(app, demo, keys):
    before = pairs(app, PartnershipProposal), pairs(app, Exclusion)
    for action in ("accept", "reject"):
        r = demo.post(
            "/profiles/busan/suggestions/decisions",
            json={"action": action, "others": ["tampere", "barcelona"]},
            headers=keys.auth("member"),
        )
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    r = demo.post(
        "/profiles/nowhere/suggestions/decisions",
        json={"action": "accept", "others": ["busan"]},
        headers=keys.auth("manager"),
    )
    assert r.status_code == 404
    assert (pairs(app, PartnershipProposal), pairs(app, Exclusion)) == before


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"action": "accept", "others": []}, "/others"),
        ({"action": "accept", "others": ["busan"] * 2}, "/others"),
        ({"action": "accept", "others": [f"c{i}" for i in range(101)]}, "/others"),
        ({"action": "accept", "others": ["Bad Id"]}, "/others/0"),
        ({"action": "propose", "others": ["busan"]}, "/action"),
        ({"action": "accept", "others": ["busan"], "reason": "why"}, "/reason"),
        ({"action": "reject", "others": ["busan"], "reason": "bell\x07"}, "/reason"),
        ({"action": "reject", "others": ["busan"], "reason": "x" * 501}, "/reason"),
    ],
)
def test_a_bad_batch_is_a_problem_and_decides_nothing(app, demo, keys, body, pointer):
    r = demo.post("/profiles/eindhoven/suggestions/decisions", json=body, headers=keys.auth("member"))
    assert r.status_code == 422 and pointer in [e["pointer"] for e in r.json()["errors"]], r.text
    assert pairs(app, PartnershipProposal) == set() and pairs(app, Exclusion) == set()
