"""Pair decisions with consent and ownership, through the API on both databases (issue 17, item 1).

A member's accept is a proposal until the other side or a manager confirms it; programme and
manager-accepted partnerships are a manager's to end; an exclusion is its maker's (or a manager's)
to remove and shows the other side no reason; a profile others refer to is not deleted under them.
"""

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from service.auth import Role, create_key
from service.db.engine import session_scope
from service.db.models import Exclusion, Partnership, PartnershipProposal, Profile
from tests.factories import city

DATA = Path(__file__).resolve().parents[3] / "data"
DEMO = json.loads((DATA / "world-cities-eu-korea.json").read_text(encoding="utf-8"))
COHORT = "world-cities-eu-korea-2017-18"
# a key label as long as a key's name may be: the columns that keep labels hold 200 characters
BUSAN_LABEL = "Busan Metropolitan City, International Relations Division " + "x" * 142


@pytest.fixture
def demo(client, keys):
    assert client.post("/bundles", json=DEMO, headers=keys.auth("admin")).status_code == 200
    return client


@pytest.fixture
def busan(app, demo) -> dict[str, str]:
    """Headers of a member key for Busan, named with a 200-character label."""
    with session_scope(app.state.sessions) as session:
        secret = create_key(session, role=Role.MEMBER, profile_id="busan", name=BUSAN_LABEL)[0]
    return {"Authorization": f"Bearer {secret}"}


def rows(app, model) -> list:
    with app.state.sessions() as session:
        return list(session.scalars(select(model)))


def suggested(client, profile_id: str, headers: dict[str, str]) -> dict[str, str | None]:
    """Live city suggestions of a profile: id → its proposal mark."""
    items = client.get(f"/profiles/{profile_id}/suggestions?source=live", headers=headers).json()["items"]
    return {s["id"]: s["proposal"] for s in items}


def test_a_members_accept_is_a_proposal_until_the_other_side_accepts(app, demo, keys, busan):
    eindhoven = keys.auth("member")
    r = demo.post("/profiles/eindhoven/suggestions/busan/accept", headers=eindhoven)
    assert r.status_code == 200
    assert r.json() | {"accepted_by": None} == {
        "cohort": "",
        "accepted": 0,
        "created": 0,
        "accepted_by": None,
        "state": "proposed",
        "waiting_for": "busan",
    }
    assert demo.post("/profiles/eindhoven/suggestions/busan/accept", headers=eindhoven).json()["state"] == "proposed"
    assert len(rows(app, PartnershipProposal)) == 1
    assert not any({p.a, p.b} == {"busan", "eindhoven"} for p in rows(app, Partnership))
    # a proposal is no partnership: it hides no suggestion, on either side, and is not exported
    assert suggested(demo, "busan", busan)["eindhoven"] == "received"
    assert suggested(demo, "eindhoven", eindhoven)["busan"] == "sent"
    exported = demo.get("/bundles", headers=keys.auth("manager")).json()["partnerships"]
    assert not any({p["a"], p["b"]} == {"busan", "eindhoven"} for p in exported)
    listed = demo.get("/profiles/busan/partnerships", headers=busan).json()
    waiting = [p for p in listed if p["state"] == "proposed"]
    assert [(p["partner"], p["proposer"], p["waiting_for"], p["removable"]) for p in waiting] == [
        ("eindhoven", "eindhoven", "busan", True)
    ]

    r = demo.post("/profiles/busan/suggestions/eindhoven/accept", headers=busan)
    assert r.json() == {
        "cohort": "",
        "accepted": 1,
        "created": 1,
        "accepted_by": BUSAN_LABEL,
        "state": "agreed",
        "waiting_for": None,
    }
    assert rows(app, PartnershipProposal) == []
    (agreed,) = [p for p in rows(app, Partnership) if {p.a, p.b} == {"busan", "eindhoven"}]
    assert agreed.members_agreed and agreed.proposer == "eindhoven" and agreed.accepted_by == BUSAN_LABEL
    assert "eindhoven" not in suggested(demo, "busan", busan) and "busan" not in suggested(demo, "eindhoven", eindhoven)
    mine = {p["partner"]: p for p in demo.get("/profiles/eindhoven/partnerships", headers=eindhoven).json()}
    assert mine["busan"]["state"] == "agreed" and not mine["busan"]["held_by_managers"] and mine["busan"]["removable"]
    # either side's member may end a partnership both members agreed to
    assert demo.delete("/profiles/eindhoven/partnerships/busan", headers=eindhoven).status_code == 204
    assert demo.delete("/profiles/eindhoven/partnerships/busan", headers=eindhoven).status_code == 404


def test_a_proposal_is_withdrawn_or_declined_by_either_side(app, demo, keys, busan):
    eindhoven = keys.auth("member")
    demo.post("/profiles/eindhoven/suggestions/busan/accept", headers=eindhoven)
    assert demo.delete("/profiles/busan/partnerships/eindhoven", headers=busan).status_code == 204  # declined
    assert rows(app, PartnershipProposal) == []
    demo.post("/profiles/eindhoven/suggestions/busan/accept", headers=eindhoven)
    assert demo.delete("/profiles/eindhoven/partnerships/busan", headers=eindhoven).status_code == 204  # withdrawn
    assert all(p["state"] == "agreed" for p in demo.get("/profiles/eindhoven/partnerships", headers=eindhoven).json())
    # a member still answers only for its own profile
    demo.post("/profiles/eindhoven/suggestions/busan/accept", headers=eindhoven)
    assert demo.delete("/profiles/busan/partnerships/eindhoven", headers=eindhoven).status_code == 403
    assert demo.post("/profiles/busan/suggestions/eindhoven/accept", headers=eindhoven).status_code == 403
    assert len(rows(app, PartnershipProposal)) == 1


def test_a_manager_confirms_a_proposal_and_then_only_a_manager_ends_it(app, demo, keys, busan):
    eindhoven = keys.auth("member")
    demo.post("/profiles/eindhoven/suggestions/busan/accept", headers=eindhoven)
    r = demo.post("/profiles/busan/suggestions/eindhoven/accept", headers=keys.auth("manager"))
    assert (r.json()["state"], r.json()["created"]) == ("agreed", 1)
    assert rows(app, PartnershipProposal) == []
    mine = {p["partner"]: p for p in demo.get("/profiles/eindhoven/partnerships", headers=eindhoven).json()}
    assert mine["busan"]["held_by_managers"] and not mine["busan"]["removable"]
    for side, headers in (("eindhoven", eindhoven), ("busan", busan)):
        other = "busan" if side == "eindhoven" else "eindhoven"
        r = demo.delete(f"/profiles/{side}/partnerships/{other}", headers=headers)
        assert r.status_code == 403 and "only a manager" in r.json()["detail"]
    assert demo.delete("/profiles/busan/partnerships/eindhoven", headers=keys.auth("manager")).status_code == 204


def test_a_managers_accept_is_agreed_at_once_and_takes_over_a_members_partnership(app, demo, keys, busan):
    eindhoven = keys.auth("member")
    r = demo.post("/profiles/eindhoven/suggestions/suwon/accept", headers=keys.auth("manager"))
    assert (r.json()["state"], r.json()["accepted"], r.json()["created"]) == ("agreed", 1, 1)
    assert demo.delete("/profiles/eindhoven/partnerships/suwon", headers=eindhoven).status_code == 403
    demo.post("/profiles/eindhoven/suggestions/busan/accept", headers=eindhoven)
    demo.post("/profiles/busan/suggestions/eindhoven/accept", headers=busan)
    r = demo.post("/profiles/busan/suggestions/eindhoven/accept", headers=keys.auth("admin"))
    assert (r.json()["state"], r.json()["created"]) == ("agreed", 0)
    assert demo.delete("/profiles/busan/partnerships/eindhoven", headers=busan).status_code == 403


def test_programme_partnerships_are_changed_only_by_managers(app, demo, keys):
    before = len(rows(app, Partnership))
    for profile_id, other, role in (("eindhoven", "seoul", "member"), ("seoul", "eindhoven", "other_member")):
        r = demo.delete(f"/profiles/{profile_id}/partnerships/{other}", headers=keys.auth(role))
        assert r.status_code == 403 and "World Cities 2017-18" in r.json()["detail"]
        r = demo.post(f"/profiles/{profile_id}/suggestions/{other}/accept", headers=keys.auth(role))
        assert (r.json()["state"], r.json()["created"]) == ("agreed", 0)
    listed = {p["partner"]: p for p in demo.get("/profiles/eindhoven/partnerships", headers=keys.auth("member")).json()}
    assert listed["seoul"]["held_by_managers"] and listed["seoul"]["programme"] == "World Cities 2017-18"
    assert len(rows(app, Partnership)) == before
    assert demo.delete("/profiles/eindhoven/partnerships/seoul", headers=keys.auth("manager")).status_code == 204
    # as are the pairs a manager accepted on the cohort board
    h = keys.auth("manager")
    demo.put("/cohorts/follow-up", json={"name": "Follow-up", "sides": {"EU": ["tampere"], "KR": ["suwon"]}}, headers=h)
    demo.post("/cohorts/follow-up/pairing/accept", json={"pairs": [["tampere", "suwon"]]}, headers=h)
    with session_scope(app.state.sessions) as session:
        key = create_key(session, role=Role.MEMBER, profile_id="tampere")[0]
    r = demo.delete("/profiles/tampere/partnerships/suwon", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403


def test_an_exclusion_is_its_makers_and_the_other_side_sees_no_reason(app, demo, keys, busan):
    eindhoven = keys.auth("member")
    r = demo.post("/profiles/busan/suggestions/eindhoven/reject", json={"reason": "not our agenda"}, headers=busan)
    assert r.status_code == 201
    assert {k: r.json()[k] for k in ("reason", "created_by", "maker", "maker_role", "removable")} == {
        "reason": "not our agenda",
        "created_by": BUSAN_LABEL,
        "maker": "busan",
        "maker_role": "member",
        "removable": True,
    }
    seen = demo.get("/profiles/eindhoven/exclusions", headers=eindhoven)
    assert [(e["excluded"], e["reason"], e["created_by"], e["maker"], e["removable"]) for e in seen.json()] == [
        ("busan", None, None, "busan", False)
    ]
    assert "not our agenda" not in seen.text and "Busan Metropolitan" not in seen.text
    # the other side can neither remove it nor take it over
    r = demo.delete("/profiles/eindhoven/exclusions/busan", headers=eindhoven)
    assert r.status_code == 403 and "made by the other side" in r.json()["detail"]
    again = demo.post("/profiles/eindhoven/exclusions", json={"excluded": "busan", "reason": "mine"}, headers=eindhoven)
    assert again.status_code == 201 and again.json()["reason"] is None and again.json()["maker"] == "busan"
    (row,) = rows(app, Exclusion)
    assert (row.reason, row.maker, row.created_by) == ("not our agenda", "busan", BUSAN_LABEL)
    assert "busan" not in suggested(demo, "eindhoven", eindhoven) and "eindhoven" not in suggested(demo, "busan", busan)
    exported = demo.get("/bundles", headers=keys.auth("manager")).json()["exclusions"]
    assert exported == [{"profile": "busan", "excluded": "eindhoven", "reason": "not our agenda"}]  # the maker's side
    # the maker repeats it with a new reason, and removes it
    demo.post("/profiles/busan/exclusions", json={"excluded": "eindhoven", "reason": "later"}, headers=busan)
    assert rows(app, Exclusion)[0].reason == "later"
    assert demo.delete("/profiles/busan/exclusions/eindhoven", headers=busan).status_code == 204
    assert "busan" in suggested(demo, "eindhoven", eindhoven)


def test_a_managers_exclusion_is_removed_by_managers_only(app, demo, keys, busan):
    demo.post("/profiles/busan/exclusions", json={"excluded": "eindhoven", "reason": "mine"}, headers=busan)
    r = demo.post("/profiles/busan/exclusions", json={"excluded": "eindhoven"}, headers=keys.auth("manager"))
    assert (r.json()["maker"], r.json()["maker_role"], r.json()["reason"]) == (None, "manager", "mine")
    mine = demo.get("/profiles/busan/exclusions", headers=busan).json()
    assert (mine[0]["maker_role"], mine[0]["reason"], mine[0]["removable"]) == ("manager", None, False)
    r = demo.delete("/profiles/busan/exclusions/eindhoven", headers=busan)
    assert r.status_code == 403 and "made by a manager" in r.json()["detail"]
    assert demo.delete("/profiles/eindhoven/exclusions/busan", headers=keys.auth("manager")).status_code == 204
    # imported exclusions are the programme's too
    bundle = {"format": "twinning.bundle/1", "exclusions": [{"profile": "busan", "excluded": "tampere"}]}
    demo.post("/bundles", json=bundle, headers=keys.auth("manager"))
    assert demo.delete("/profiles/busan/exclusions/tampere", headers=busan).status_code == 403


def test_no_proposal_across_an_exclusion_and_rejecting_declines_one(app, demo, keys, busan):
    eindhoven = keys.auth("member")
    demo.post("/profiles/busan/suggestions/eindhoven/reject", json={}, headers=busan)
    r = demo.post("/profiles/eindhoven/suggestions/busan/accept", headers=eindhoven)
    assert r.status_code == 409 and r.json()["errors"] == [{"pointer": "/other", "detail": "excluded"}]
    assert rows(app, PartnershipProposal) == []
    demo.delete("/profiles/busan/exclusions/eindhoven", headers=busan)
    demo.post("/profiles/eindhoven/suggestions/busan/accept", headers=eindhoven)
    assert demo.post("/profiles/busan/suggestions/eindhoven/reject", json={}, headers=busan).status_code == 201
    assert rows(app, PartnershipProposal) == [] and len(rows(app, Exclusion)) == 1


def test_deleting_a_referenced_profile_is_409_unless_a_manager_deletes_it_with_what_refers_to_it(
    app, demo, keys, busan
):
    eindhoven = keys.auth("member")
    demo.post("/profiles/busan/suggestions/eindhoven/reject", json={"reason": "no"}, headers=busan)
    demo.post("/profiles/eindhoven/suggestions/suwon/accept", headers=eindhoven)  # its own proposal: no blocker
    demo.post("/profiles/eindhoven/exclusions", json={"excluded": "tampere"}, headers=eindhoven)  # its own
    organisations = sorted(p["id"] for p in DEMO["profiles"] if p.get("city") == "eindhoven")
    partners = sorted(
        {p["a"], p["b"]}.difference({"eindhoven"}).pop()
        for p in DEMO["partnerships"]
        if "eindhoven" in (p["a"], p["b"])
    )
    assert organisations and partners
    version = {"If-Match": '"1"'}
    for headers in (eindhoven, keys.auth("admin")):
        r = demo.delete("/profiles/eindhoven", headers={**headers, **version})
        assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["title"] == "Still referenced" and "cascade=true" in r.json()["detail"]
        refs = r.json()["references"]
        assert refs == {
            "partnerships": refs["partnerships"],
            "proposals": [],
            "exclusions": ["busan"],
            "cohorts": [COHORT],
            "organisations": organisations,
            "shortlist": [],
            "shortlisted": 0,
        }
        assert sorted(refs["partnerships"]) == partners
    assert demo.delete("/profiles/eindhoven?cascade=true", headers={**eindhoven, **version}).status_code == 403
    assert demo.get("/profiles/eindhoven", headers=eindhoven).status_code == 200
    # a stale version is still a 412, before any reference is looked at
    assert (
        demo.delete("/profiles/eindhoven?cascade=true", headers={**keys.auth("admin"), "If-Match": '"7"'}).status_code
        == 412
    )

    r = demo.delete("/profiles/eindhoven?cascade=true", headers={**keys.auth("admin"), **version})
    assert r.status_code == 200
    gone = r.json()
    assert gone["deleted"] == "eindhoven" and gone["keys_revoked"] == 1
    assert sorted(gone["removed"]["partnerships"]) == partners and gone["removed"]["proposals"] == ["suwon"]
    assert sorted(gone["removed"]["exclusions"]) == ["busan", "tampere"]
    assert gone["removed"]["cohorts"] == [COHORT] and gone["removed"]["organisations"] == organisations
    # the key died with its profile; the organisations stay, unlinked; nothing dangles, so the export imports
    assert demo.get("/profiles", headers=eindhoven).status_code == 401
    with app.state.sessions() as session:
        unlinked = {p.id: p for p in session.scalars(select(Profile).where(Profile.id.in_(organisations)))}
    assert all(p.city is None and p.version == 2 for p in unlinked.values())
    assert all(app.state.live.profile_text(o).city is None for o in organisations)
    exported = demo.get("/bundles", headers=keys.auth("manager")).json()
    assert "eindhoven" not in json.dumps(exported["partnerships"] + exported["cohorts"] + exported["exclusions"])
    assert demo.post("/bundles", json=exported, headers=keys.auth("manager")).status_code == 200
    assert demo.get("/bundles", headers=keys.auth("manager")).json() == exported


def test_a_member_deletes_its_unreferenced_profile_with_its_own_decisions_and_its_key(app, client, keys):
    admin = keys.auth("admin")
    for body in (city("newtown"), city("seoul", country="KR", bloc="KR"), city("busan", country="KR", bloc="KR")):
        assert client.post("/profiles", json=body, headers=admin).status_code == 201
    with session_scope(app.state.sessions) as session:
        newtown = {"Authorization": f"Bearer {create_key(session, role=Role.MEMBER, profile_id='newtown')[0]}"}
    client.post("/profiles/newtown/suggestions/seoul/accept", headers=newtown)
    client.post("/profiles/newtown/exclusions", json={"excluded": "busan"}, headers=newtown)
    client.post("/profiles/seoul/exclusions", json={"excluded": "newtown"}, headers=keys.auth("other_member"))
    r = client.delete("/profiles/newtown", headers={**newtown, "If-Match": '"1"'})
    assert r.status_code == 409 and r.json()["references"]["exclusions"] == ["seoul"]
    client.delete("/profiles/seoul/exclusions/newtown", headers=keys.auth("other_member"))
    assert client.delete("/profiles/newtown", headers={**newtown, "If-Match": '"1"'}).status_code == 204
    assert rows(app, Exclusion) == [] and rows(app, PartnershipProposal) == []
    # the key died with it: whoever takes the id later is not controlled by it
    assert client.post("/profiles", json=city("newtown"), headers=newtown).status_code == 401
