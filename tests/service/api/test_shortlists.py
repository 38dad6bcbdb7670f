"""Shortlists with notes through the API on both databases: a profile's member and managers keep them;
no member sees or changes another's; deleting a profile follows the references rules."""

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from service.auth import Role, create_key
from service.db.engine import session_scope
from service.db.models import ShortlistEntry
from tests.factories import city

DATA = Path(__file__).resolve().parents[3] / "data"
DEMO = json.loads((DATA / "world-cities-eu-korea.json").read_text(encoding="utf-8"))


@pytest.fixture
def demo(client, keys):
    assert client.post("/bundles", json=DEMO, headers=keys.auth("admin")).status_code == 200
    return client


def entries(app) -> set[tuple[str, str, str | None]]:
    with app.state.sessions() as session:
        return {(e.profile_id, e.other_id, e.note) for e in session.scalars(select(ShortlistEntry))}


def test_a_member_keeps_suggestions_with_notes_and_changes_or_removes_them(app, demo, keys):
    eindhoven = keys.auth("member")
    r = demo.put(
        "/profiles/eindhoven/shortlist/busan", json={"note": "smart lighting\n\tcall in May"}, headers=eindhoven
    )
    assert r.status_code == 201
    assert r.json() | {"created_at": None, "updated_at": None} == {
        "profile": "eindhoven",
        "other": "busan",
        "name": "Busan",
        "kind": "city",
        "note": "smart lighting\n\tcall in May",
        "saved_by": r.json()["saved_by"],
        "created_at": None,
        "updated_at": None,
    }
    assert demo.put("/profiles/eindhoven/shortlist/philips-lighting", json={}, headers=eindhoven).status_code == 201
    r = demo.put("/profiles/eindhoven/shortlist/busan", json={"note": "  met in Seoul  "}, headers=eindhoven)
    assert r.status_code == 200 and r.json()["note"] == "met in Seoul"
    listed = demo.get("/profiles/eindhoven/shortlist", headers=eindhoven).json()
    assert [(e["other"], e["note"]) for e in listed] == [("busan", "met in Seoul"), ("philips-lighting", None)]
    assert demo.delete("/profiles/eindhoven/shortlist/philips-lighting", headers=eindhoven).status_code == 204
    r = demo.delete("/profiles/eindhoven/shortlist/philips-lighting", headers=eindhoven)
    assert r.status_code == 404 and "not on the shortlist" in r.json()["detail"]
    assert entries(app) == {("eindhoven", "busan", "met in Seoul")}


def test_no_member_sees_or_changes_another_profiles_shortlist_but_a_manager_does(app, demo, keys):
    assert (
        demo.put("/profiles/eindhoven/shortlist/busan", json={"note": "ours"}, headers=keys.auth("member")).status_code
        == 201
    )
    seoul = keys.auth("other_member")
    assert demo.get("/profiles/eindhoven/shortlist", headers=seoul).status_code == 403
    assert demo.put("/profiles/eindhoven/shortlist/busan", json={"note": "theirs"}, headers=seoul).status_code == 403
    assert demo.put("/profiles/eindhoven/shortlist/tampere", json={}, headers=seoul).status_code == 403
    assert demo.delete("/profiles/eindhoven/shortlist/busan", headers=seoul).status_code == 403
    # the kept profile's own member cannot take itself off either
    assert entries(app) == {("eindhoven", "busan", "ours")}
    manager = keys.auth("manager")
    assert [e["note"] for e in demo.get("/profiles/eindhoven/shortlist", headers=manager).json()] == ["ours"]
    before = demo.get("/profiles/eindhoven/shortlist", headers=keys.auth("member")).json()[0]["saved_by"]
    r = demo.put("/profiles/eindhoven/shortlist/busan", json={"note": "checked"}, headers=manager)
    assert r.status_code == 200 and r.json()["saved_by"] != before
    assert entries(app) == {("eindhoven", "busan", "checked")}


@pytest.mark.parametrize(
    ("other", "body", "status", "pointer"),
    [
        ("busan", {"note": "x" * 1001}, 422, "/note"),
        ("busan", {"note": "bell\x07"}, 422, "/note"),
        ("busan", {"note": "nul\x00"}, 422, "/note"),
        ("busan", {"note": "ok", "rank": 1}, 422, "/rank"),
        ("eindhoven", {}, 422, "/other"),
        ("nowhere", {}, 404, "/other"),
    ],
)
def test_a_bad_note_or_profile_is_a_problem_and_stores_nothing(app, demo, keys, other, body, status, pointer):
    r = demo.put(f"/profiles/eindhoven/shortlist/{other}", json=body, headers=keys.auth("member"))
    assert r.status_code == status and r.headers["content-type"] == "application/problem+json"
    assert pointer in [e["pointer"] for e in r.json()["errors"]]
    assert entries(app) == set()


@pytest.fixture
def almere(app, demo, keys) -> dict[str, str]:
    """A new city outside the demo's cohort and partnerships, and the headers of its member's key."""
    assert demo.post("/profiles", json=city("almere"), headers=keys.auth("admin")).status_code == 201
    with session_scope(app.state.sessions) as session:
        secret = create_key(session, role=Role.MEMBER, profile_id="almere", name="Almere")[0]
    return {"Authorization": f"Bearer {secret}"}


def test_a_profile_on_another_shortlist_is_deleted_only_by_a_manager_and_its_own_shortlist_goes_with_it(
    app, demo, keys, almere
):
    assert demo.put("/profiles/almere/shortlist/tampere", json={"note": "mine"}, headers=almere).status_code == 201
    eindhoven = keys.auth("member")
    assert demo.put("/profiles/eindhoven/shortlist/almere", json={"note": "ours"}, headers=eindhoven).status_code == 201
    r = demo.delete("/profiles/almere", headers=almere | {"If-Match": '"1"'})
    assert r.status_code == 409
    references = r.json()["references"]
    assert (references["shortlisted"], references["shortlist"]) == (1, [])
    assert "eindhoven" not in r.text  # whose shortlist keeps Almere is Eindhoven's to know
    assert "1 entries on other profiles' shortlists" in r.json()["detail"]
    assert entries(app) == {("almere", "tampere", "mine"), ("eindhoven", "almere", "ours")}
    r = demo.delete("/profiles/almere?cascade=true", headers=keys.auth("admin") | {"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert (r.json()["removed"]["shortlist"], r.json()["removed"]["shortlisted"]) == (["tampere"], 1)
    assert entries(app) == set()


def test_a_profile_whose_own_shortlist_is_all_that_refers_to_it_is_deleted_by_its_member(app, demo, keys, almere):
    assert demo.put("/profiles/almere/shortlist/busan", json={"note": "later"}, headers=almere).status_code == 201
    assert demo.delete("/profiles/almere", headers=almere | {"If-Match": '"1"'}).status_code == 204
    assert entries(app) == set()
    # its member key died with it: whoever takes the id next starts with no shortlist
    assert demo.get("/profiles/almere/shortlist", headers=almere).status_code == 401
