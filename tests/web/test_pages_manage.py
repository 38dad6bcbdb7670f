"""Managing data in place, through the ASGI app on both databases: keys (admins), profiles and cohorts
(managers), and the stale-edit merge; members get 403 pages, forms without the session's CSRF token 403."""

import html
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.db.models import ApiKey
from tests.web.test_pages import browser, hidden, sign_in


def stored_keys(app) -> list[ApiKey]:
    with app.state.sessions() as session:
        return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


# keys


def test_an_admin_creates_a_key_sees_its_secret_once_and_it_signs_in(demo, keys):
    csrf = sign_in(demo, keys.admin)
    page = demo.get("/app/keys")
    assert page.status_code == 200 and 'href="/app/keys" aria-current="page"' in page.text
    before = len(stored_keys(demo.app))
    r = demo.post("/app/keys", data={"csrf": csrf, "role": "member", "name": "Busan city hall", "profile_id": "busan"})
    assert r.status_code == 201 and "will not be shown again" in r.text
    secret = re.search(r'id="secret" class="secret" value="(tw_[^"]+)"', r.text).group(1)
    made = stored_keys(demo.app)[-1]
    assert len(stored_keys(demo.app)) == before + 1
    assert (made.role, made.name, made.profile_id) == ("member", "Busan city hall", "busan")
    assert secret.startswith(made.prefix) and secret not in demo.get("/app/keys").text
    # the new key works at once, as a member of Busan
    other = browser(demo.app)
    sign_in(other, secret)
    assert other.get("/app", follow_redirects=False).headers["location"] == "/app/profiles/busan"


def test_bad_key_forms_are_422_pages_that_name_the_field_and_store_nothing(demo, keys):
    csrf = sign_in(demo, keys.admin)
    before = len(stored_keys(demo.app))
    r = demo.post("/app/keys", data={"csrf": csrf, "role": "owner", "name": "", "profile_id": ""})
    assert r.status_code == 422 and 'id="role-error"' in r.text
    r = demo.post("/app/keys", data={"csrf": csrf, "role": "member", "name": "x", "profile_id": "Not An Id"})
    assert r.status_code == 422 and 'id="profile_id-error"' in r.text and 'value="Not An Id"' in r.text
    r = demo.post("/app/keys", data={"csrf": csrf, "role": "member", "name": "x", "profile_id": ""})
    assert r.status_code == 422 and "must be bound to a profile" in r.text
    r = demo.post("/app/keys", data={"csrf": csrf, "role": "manager", "name": "a\x00b", "profile_id": ""})
    assert r.status_code == 422 and 'id="name-error"' in r.text
    assert len(stored_keys(demo.app)) == before


def test_an_admin_revokes_a_key_and_its_holder_is_signed_out(demo, keys):
    holder = browser(demo.app)
    sign_in(holder, keys.manager)
    assert holder.get("/app/profiles", follow_redirects=False).status_code == 200
    csrf = sign_in(demo, keys.admin)
    manager = next(k for k in stored_keys(demo.app) if k.role == "manager")
    r = demo.post(f"/app/keys/{manager.id}/revoke", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/keys"
    page = demo.get("/app/keys").text
    assert f"Revoked key-{manager.id}" in page and "revoked 20" in page
    assert holder.get("/app/profiles", follow_redirects=False).status_code == 303
    assert demo.get("/profiles", headers=keys.auth("manager")).status_code == 401
    assert demo.post("/app/keys/999999/revoke", data={"csrf": csrf}).status_code == 404
    assert demo.post("/app/keys/0/revoke", data={"csrf": csrf}).status_code == 422


@pytest.mark.parametrize("role", ["manager", "member"])
def test_keys_are_for_admins_only(demo, keys, role):
    csrf = sign_in(demo, getattr(keys, role))
    assert "/app/keys" not in demo.get("/app/profiles").text
    assert demo.get("/app/keys").status_code == 403
    before = stored_keys(demo.app)
    assert demo.post("/app/keys", data={"csrf": csrf, "role": "admin"}).status_code == 403
    assert demo.post(f"/app/keys/{before[0].id}/revoke", data={"csrf": csrf}).status_code == 403
    assert [(k.id, k.revoked_at) for k in stored_keys(demo.app)] == [(k.id, k.revoked_at) for k in before]


def test_key_forms_need_the_sessions_csrf_token(demo, keys):
    sign_in(demo, keys.admin)
    before = stored_keys(demo.app)
    for data in ({}, {"csrf": "forged"}):
        assert demo.post("/app/keys", data=data | {"role": "admin"}).status_code == 403
        assert demo.post(f"/app/keys/{before[0].id}/revoke", data=data).status_code == 403
    assert [(k.id, k.revoked_at) for k in stored_keys(demo.app)] == [(k.id, k.revoked_at) for k in before]


# profiles

NEW_CITY_FORM = {
    "id": "daegu",
    "kind": "city",
    "name": "Daegu",
    "country": "kr",
    "bloc": "KR",
    "org_type": "",
    "city": "",
    "description": "A city of textiles turning to robotics and medical technology.",
    "interests": "robotics in manufacturing\nmedical technology clusters",
    "offers": "textile innovation centre",
}


def stored(client, keys, profile_id):
    return client.get(f"/profiles/{profile_id}", headers=keys.auth("admin"))


def test_a_manager_creates_a_city_and_an_organisation_from_the_form(demo, keys):
    csrf = sign_in(demo, keys.manager)
    assert 'href="/app/new/profile"' in demo.get("/app/profiles").text
    form = demo.get("/app/new/profile")
    assert form.status_code == 200 and 'name="id"' in form.text and 'name="interests"' in form.text
    r = demo.post("/app/new/profile", data=NEW_CITY_FORM | {"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/profiles/daegu"
    assert "Created Daegu (city, version 1)" in demo.get("/app/profiles/daegu").text
    daegu = stored(demo, keys, "daegu").json()
    assert daegu["country"] == "KR" and daegu["interests"] == [
        "robotics in manufacturing",
        "medical technology clusters",
    ]
    assert "robotics in manufacturing" in demo.app.state.live.profile_text("daegu").interests
    organisation = NEW_CITY_FORM | {
        "id": "dgist",
        "kind": "organisation",
        "name": "DGIST",
        "org_type": "university",
        "city": "daegu",
        "interests": "",
        "offers": "robotics research",
    }
    r = demo.post("/app/new/profile", data=organisation | {"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert stored(demo, keys, "dgist").json()["city"] == "daegu"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"id": ""}, "id", "does not have the form asked for"),
        ({"id": "Daegu City"}, "id", "“Daegu City” does not have the form"),
        ({"id": "eindhoven"}, "id", "exists"),
        ({"country": "XX"}, "country", "ISO 3166-1"),
        ({"interests": ""}, "interests", "at least one interest"),
        ({"kind": "organisation"}, "org_type", "an organisation needs its type"),
        ({"kind": "organisation", "org_type": "company", "city": "atlantis"}, "city", "no profile &#39;atlantis&#39;"),
        ({"name": "Dae\x00gu"}, "name", "control character"),
    ],
)
def test_a_bad_new_profile_is_a_4xx_page_naming_the_field_and_nothing_is_stored(demo, keys, change, field, words):
    csrf = sign_in(demo, keys.manager)
    r = demo.post("/app/new/profile", data=NEW_CITY_FORM | change | {"csrf": csrf})
    assert r.status_code in (409, 422), r.text
    errors = dict(re.findall(r'<ul class="field-error" id="([a-z_]+)-error">(.*?)</ul>', r.text, re.S))
    assert field in errors and words.lower() in errors[field].lower(), errors
    assert "Nothing was saved" in r.text
    if change.get("id") != "eindhoven":
        assert stored(demo, keys, "daegu").status_code == 404


def test_members_cannot_create_profiles_on_the_pages_and_forms_need_csrf(demo, keys):
    csrf = sign_in(demo, keys.member)
    assert "/app/new/profile" not in demo.get("/app/profiles").text
    assert demo.get("/app/new/profile").status_code == 403
    assert demo.post("/app/new/profile", data=NEW_CITY_FORM | {"csrf": csrf}).status_code == 403
    manager = browser(demo.app)
    sign_in(manager, keys.manager)
    assert manager.post("/app/new/profile", data=NEW_CITY_FORM | {"csrf": "forged"}).status_code == 403
    assert stored(demo, keys, "daegu").status_code == 404


def test_a_manager_deletes_a_profile_nothing_refers_to(demo, keys):
    csrf = sign_in(demo, keys.manager)
    assert demo.post("/app/new/profile", data=NEW_CITY_FORM | {"csrf": csrf}).status_code == 200
    page = demo.get("/app/profiles/daegu/delete")
    assert page.status_code == 200 and "Nothing else holds Daegu" in page.text
    r = demo.post("/app/profiles/daegu/delete", data={"csrf": csrf, "version": "1"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/profiles"
    assert "Deleted Daegu." in demo.get("/app/profiles").text
    assert stored(demo, keys, "daegu").status_code == 404
    assert demo.app.state.live.profile_text("daegu") is None


def test_deleting_a_referenced_profile_shows_what_holds_it_and_a_manager_deletes_it_with_them(demo, keys):
    csrf = sign_in(demo, keys.manager)
    r = demo.post("/app/profiles/busan/shortlist/eindhoven", data={"csrf": csrf, "note": ""}, follow_redirects=False)
    assert r.status_code == 303
    page = demo.get("/app/profiles/eindhoven/delete").text
    assert "Others refer to Eindhoven" in page and ">Seoul</a>" in page and ">Philips Lighting</a>" in page
    assert "1 entry on other profiles’ shortlists" in page
    assert 'href="/app/cohorts/world-cities-eu-korea-2017-18"' in page
    r = demo.post("/app/profiles/eindhoven/delete", data={"csrf": csrf, "version": "1"})
    assert r.status_code == 409 and "Nothing was deleted" in r.text and "delete it together with them" in r.text
    assert stored(demo, keys, "eindhoven").status_code == 200
    r = demo.post("/app/profiles/eindhoven/delete", data={"csrf": csrf, "version": "1", "cascade": "true"})
    assert r.status_code == 200 and "Deleted Eindhoven; with it went" in r.text
    went = re.search(r"Deleted Eindhoven; with it went ([^<]*)", r.text).group(1)
    assert "partnerships" in went and "1 cohorts" in went and "organisations" in went and "1 member key revoked" in went
    assert "1 entry on other profiles&#39; shortlists" in went
    assert stored(demo, keys, "eindhoven").status_code == 404
    assert stored(demo, keys, "philips-lighting").json()["city"] is None
    cohort = demo.get("/cohorts/world-cities-eu-korea-2017-18", headers=keys.auth("admin")).json()
    assert "eindhoven" not in cohort["sides"]["EU"]


def test_a_member_cannot_delete_its_referenced_profile_with_others_nor_another(demo, keys):
    csrf = sign_in(demo, keys.member)
    page = demo.get("/app/profiles/eindhoven/delete").text
    assert "Ask a programme manager" in page and 'name="cascade"' not in page
    r = demo.post("/app/profiles/eindhoven/delete", data={"csrf": csrf, "version": "1", "cascade": "true"})
    assert r.status_code == 403
    assert demo.get("/app/profiles/seoul/delete").status_code == 403
    assert demo.post("/app/profiles/seoul/delete", data={"csrf": csrf, "version": "1"}).status_code == 403
    assert stored(demo, keys, "eindhoven").status_code == 200 and stored(demo, keys, "seoul").status_code == 200


def test_a_stale_or_damaged_delete_form_deletes_nothing(demo, keys):
    csrf = sign_in(demo, keys.manager)
    assert demo.post("/app/new/profile", data=NEW_CITY_FORM | {"csrf": csrf}).status_code == 200
    r = demo.post("/app/profiles/daegu/delete", data={"csrf": csrf, "version": "7"})
    assert r.status_code == 412 and "not 7" in r.text
    for version in ("", "²", "x"):
        assert demo.post("/app/profiles/daegu/delete", data={"csrf": csrf, "version": version}).status_code == 422
    assert demo.post("/app/profiles/daegu/delete", data={"version": "1"}).status_code == 403
    assert stored(demo, keys, "daegu").status_code == 200


# cohorts

COHORT = "world-cities-eu-korea-2017-18"


def cohort_form(page: str) -> dict[str, list[str]]:
    """The cohort form's side slots as the page numbers them: side name → the checkbox field's name."""
    sides = re.findall(r'<input type="hidden" name="side" value="([^"]+)">', page)
    return {side: f"members_{i}" for i, side in enumerate(sides)}


def test_a_manager_creates_a_cohort_picking_members_by_bloc(demo, keys):
    csrf = sign_in(demo, keys.manager)
    assert 'href="/app/new/cohort"' in demo.get("/app/cohorts").text
    page = demo.get("/app/new/cohort")
    assert page.status_code == 200
    slots = cohort_form(page.text)
    assert set(slots) == {"EU", "KR"}
    assert re.search(r'name="members_\d" value="barcelona"', page.text)
    data = {
        "csrf": csrf,
        "name": "Lighting pilots 2026",
        "id": "",
        "side": list(slots),
        slots["EU"]: ["eindhoven", "tampere"],
        slots["KR"]: ["seoul"],
        "programme": "Lighting 2026",
    }
    r = demo.post("/app/new/cohort", data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/cohorts/lighting-pilots-2026"
    board = demo.get(r.headers["location"]).text
    assert "Created cohort “Lighting pilots 2026” with 2 sides" in board and "Proposed pairing" in board
    stored = demo.get("/cohorts/lighting-pilots-2026", headers=keys.auth("manager")).json()
    assert stored["sides"] == {"EU": ["eindhoven", "tampere"], "KR": ["seoul"]}
    assert stored["programme"] == "Lighting 2026" and "Programme: <strong>Lighting 2026</strong>" in board
    assert 'value="Lighting 2026"' in demo.get("/app/cohorts/lighting-pilots-2026/edit").text
    # the same id again is refused, beside the id
    r = demo.post("/app/new/cohort", data=data)
    assert r.status_code == 409 and "id: a cohort with id &#39;lighting-pilots-2026&#39; exists" in r.text


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"name": ""}, "name:"),
        ({"id": "Bad Id"}, "id:"),
        ({"KR": []}, "at least two sides"),
        ({"KR": ["philips-lighting"]}, "cohort members are cities"),
        ({"KR": ["atlantis"]}, "no profile &#39;atlantis&#39;"),
        ({"KR": ["eindhoven"]}, "more than one side"),
        ({"name": "Bad\x00name"}, "control character"),
    ],
)
def test_a_bad_cohort_form_is_a_4xx_page_listing_the_problem_and_stores_nothing(demo, keys, change, words):
    change = dict(change)  # the parameter is shared by both databases' runs: never change it
    csrf = sign_in(demo, keys.manager)
    slots = cohort_form(demo.get("/app/new/cohort").text)
    data = {"csrf": csrf, "name": "Pilots", "id": "pilots", "side": list(slots), slots["EU"]: ["eindhoven"]}
    data[slots["KR"]] = change.pop("KR", ["seoul"])
    r = demo.post("/app/new/cohort", data=data | change)
    assert r.status_code == 422, r.text
    assert "Nothing was saved" in r.text and words in r.text, r.text[r.text.find("Nothing was saved") :][:600]
    assert [c["id"] for c in demo.get("/cohorts", headers=keys.auth("manager")).json()] == [COHORT]


def test_a_manager_edits_a_cohorts_sides_and_deletes_it(demo, keys):
    csrf = sign_in(demo, keys.manager)
    assert f'href="/app/cohorts/{COHORT}/edit"' in demo.get(f"/app/cohorts/{COHORT}").text
    page = demo.get(f"/app/cohorts/{COHORT}/edit").text
    slots = cohort_form(page)
    assert re.search(rf'name="{slots["EU"]}" value="tampere" checked', page)
    before = demo.get(f"/cohorts/{COHORT}", headers=keys.auth("manager")).json()["sides"]
    data = {
        "csrf": csrf,
        "name": "World Cities EU-Korea 2017-18",
        "side": list(slots),
        slots["EU"]: [m for m in before["EU"] if m != "tampere"],
        slots["KR"]: [m for m in before["KR"] if m != "gwangju"],
    }
    r = demo.post(f"/app/cohorts/{COHORT}/edit", data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/app/cohorts/{COHORT}"
    after = demo.get(f"/cohorts/{COHORT}", headers=keys.auth("manager")).json()["sides"]
    assert "tampere" not in after["EU"] and "gwangju" not in after["KR"] and len(after["EU"]) == len(before["EU"]) - 1
    assert "Saved cohort" in demo.get(f"/app/cohorts/{COHORT}").text
    partnerships = demo.get("/profiles/tampere/partnerships", headers=keys.auth("manager")).json()
    r = demo.post(f"/app/cohorts/{COHORT}/delete", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/cohorts"
    assert "Deleted cohort “World Cities EU-Korea 2017-18”; its partnerships stay" in demo.get("/app/cohorts").text
    assert demo.get(f"/cohorts/{COHORT}", headers=keys.auth("manager")).status_code == 404
    assert demo.get("/profiles/tampere/partnerships", headers=keys.auth("manager")).json() == partnerships
    assert demo.get(f"/app/cohorts/{COHORT}/edit").status_code == 404
    assert demo.post(f"/app/cohorts/{COHORT}/delete", data={"csrf": csrf}).status_code == 404


def test_members_cannot_create_edit_or_delete_cohorts_and_forms_need_csrf(demo, keys):
    csrf = sign_in(demo, keys.member)
    assert "/app/new/cohort" not in demo.get("/app/cohorts").text
    assert "/edit" not in demo.get(f"/app/cohorts/{COHORT}").text
    for url in ("/app/new/cohort", f"/app/cohorts/{COHORT}/edit"):
        assert demo.get(url).status_code == 403
        assert (
            demo.post(url, data={"csrf": csrf, "name": "Mine", "side": ["EU"], "members_0": ["eindhoven"]}).status_code
            == 403
        )
    assert demo.post(f"/app/cohorts/{COHORT}/delete", data={"csrf": csrf}).status_code == 403
    manager = browser(demo.app)
    sign_in(manager, keys.manager)
    assert manager.post(f"/app/cohorts/{COHORT}/delete", data={"csrf": "forged"}).status_code == 403
    assert manager.post(f"/app/cohorts/{COHORT}/edit", data={"name": "x"}).status_code == 403
    assert [c["id"] for c in demo.get("/cohorts", headers=keys.auth("manager")).json()] == [COHORT]


# the stale edit: a three-way merge against the version both edits started from


def edit_form(client: TestClient, profile_id: str = "eindhoven") -> dict:
    """What the edit page's form sends unchanged: its hidden fields and the profile's values as typed."""
    page = client.get(f"/app/profiles/{profile_id}/edit").text
    base = json.loads(html.unescape(hidden(page, "base")))
    return {
        "csrf": hidden(page, "csrf"),
        "version": hidden(page, "version"),
        "base": html.unescape(hidden(page, "base")),
        **{k: "\n".join(v) if isinstance(v, list) else (v or "") for k, v in base.items()},
    }


def save_elsewhere(client, keys, changes: dict, version: int = 1) -> None:
    """Another tab (here the API, as an admin) saves a change first."""
    current = client.get("/profiles/eindhoven", headers=keys.auth("admin")).json()
    body = {k: v for k, v in current.items() if k not in ("version", "created_at", "updated_at")} | changes
    r = client.put("/profiles/eindhoven", json=body, headers={**keys.auth("admin"), "If-Match": f'"{version}"'})
    assert r.status_code == 200, r.text


def merge_form(page: str) -> dict:
    return {name: html.unescape(hidden(page, name)) for name in ("csrf", "base", "mine", "base_version")}


def test_a_stale_edit_keeps_the_other_tabs_changes_and_mine(demo, keys):
    sign_in(demo, keys.member)
    mine = edit_form(demo)
    before = demo.get("/profiles/eindhoven", headers=keys.auth("admin")).json()
    save_elsewhere(demo, keys, {"name": "Eindhoven (Brainport)", "offers": [*before["offers"], "open data portal"]})
    dropped = before["interests"][0]
    r = demo.post(
        "/app/profiles/eindhoven/edit",
        data=mine
        | {
            "offers": mine["offers"] + "\nmobile voting pilots",
            "interests": "\n".join(before["interests"][1:]),
        },
    )
    assert r.status_code == 412 and "Someone else changed this profile" in r.text
    assert "None of your changes clash" in r.text
    name_row = re.search(r'<tr id="merge-name".*?</tr>', r.text, re.S).group(0)
    assert "changed by the other edit" in name_row and "Eindhoven (Brainport)" in name_row
    offers_row = re.search(r'<tr id="merge-offers".*?</tr>', r.text, re.S).group(0)
    assert re.search(r"added by you</span> mobile voting pilots", offers_row)
    assert re.search(r"added by the other edit</span> open data portal", offers_row)
    interests_row = re.search(r'<tr id="merge-interests".*?</tr>', r.text, re.S).group(0)
    assert f"removed by you</span> <s>{dropped}</s>" in interests_row
    assert "choose_" not in r.text
    r = demo.post("/app/profiles/eindhoven/merge", data=merge_form(r.text) | {"action": "save"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/profiles/eindhoven"
    assert "your changes merged with those saved meanwhile" in demo.get("/app/profiles/eindhoven").text
    stored = demo.get("/profiles/eindhoven", headers=keys.auth("admin")).json()
    assert stored["version"] == 3 and stored["name"] == "Eindhoven (Brainport)"
    assert stored["offers"] == [*before["offers"], "open data portal", "mobile voting pilots"]
    assert stored["interests"] == before["interests"][1:]
    assert "mobile voting pilots" in demo.app.state.live.profile_text("eindhoven").offers


def test_a_true_conflict_is_chosen_and_the_rest_still_merges(demo, keys):
    sign_in(demo, keys.member)
    mine = edit_form(demo)
    save_elsewhere(demo, keys, {"description": "Their description.", "bloc": "EU-NL"})
    r = demo.post(
        "/app/profiles/eindhoven/edit", data=mine | {"description": "My description.", "name": "Eindhoven NL"}
    )
    assert r.status_code == 412 and "Both of you changed description" in r.text
    row = re.search(r'<tr id="merge-description" class="conflict">.*?</tr>', r.text, re.S).group(0)
    assert "My description." in row and "Their description." in row and 'name="choose_description"' in row
    form = merge_form(r.text)
    r = demo.post("/app/profiles/eindhoven/merge", data=form | {"action": "save"})
    assert r.status_code == 422 and "choose yours or theirs for description" in r.text
    assert demo.get("/profiles/eindhoven", headers=keys.auth("admin")).json()["version"] == 2
    # open the merge in the edit form first: their description chosen, my name, their bloc
    r = demo.post("/app/profiles/eindhoven/merge", data=form | {"action": "edit", "choose_description": "theirs"})
    assert r.status_code == 200 and hidden(r.text, "version") == "2"
    assert 'value="Eindhoven NL"' in r.text and 'value="EU-NL"' in r.text and ">Their description.</textarea>" in r.text
    assert json.loads(html.unescape(hidden(r.text, "base")))["description"] == "Their description."
    r = demo.post(
        "/app/profiles/eindhoven/merge",
        data=form | {"action": "save", "choose_description": "mine"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    stored = demo.get("/profiles/eindhoven", headers=keys.auth("admin")).json()
    assert (stored["description"], stored["name"], stored["bloc"]) == ("My description.", "Eindhoven NL", "EU-NL")


def test_a_merge_that_goes_stale_again_merges_with_the_newest_version(demo, keys):
    sign_in(demo, keys.member)
    mine = edit_form(demo)
    save_elsewhere(demo, keys, {"name": "Eindhoven (Brainport)"})
    r = demo.post("/app/profiles/eindhoven/edit", data=mine | {"offers": mine["offers"] + "\nmobile voting pilots"})
    assert r.status_code == 412
    save_elsewhere(demo, keys, {"country": "BE"}, version=2)  # a third edit, while the merge page was open
    r = demo.post("/app/profiles/eindhoven/merge", data=merge_form(r.text) | {"action": "save"}, follow_redirects=False)
    assert r.status_code == 303  # merged against version 3: nothing of version 3 clashes with mine
    stored = demo.get("/profiles/eindhoven", headers=keys.auth("admin")).json()
    assert (stored["version"], stored["name"], stored["country"]) == (4, "Eindhoven (Brainport)", "BE")
    assert stored["offers"][-1] == "mobile voting pilots"


def test_a_stale_form_without_its_base_asks_about_every_difference(demo, keys):
    sign_in(demo, keys.member)
    mine = edit_form(demo)
    save_elsewhere(demo, keys, {"name": "Eindhoven (Brainport)"})
    r = demo.post("/app/profiles/eindhoven/edit", data={k: v for k, v in mine.items() if k != "base"})
    assert r.status_code == 412 and "Both of you changed name" in r.text and "not known" in r.text


def test_damaged_merge_forms_are_4xx_and_foreign_ones_403(demo, keys):
    csrf = sign_in(demo, keys.member)
    mine = edit_form(demo)
    save_elsewhere(demo, keys, {"name": "Eindhoven (Brainport)"})
    form = merge_form(demo.post("/app/profiles/eindhoven/edit", data=mine | {"offers": "x"}).text)
    for damage in ({"mine": ""}, {"mine": "{"}, {"base": "[1]"}, {"mine": json.dumps({"name": "no kind"})}):
        r = demo.post("/app/profiles/eindhoven/merge", data=form | damage | {"action": "save"})
        assert r.status_code == 422 and r.headers["content-type"].startswith("text/html"), damage
    r = demo.post("/app/profiles/eindhoven/edit", data=mine | {"base": "{not json"})
    assert r.status_code == 422
    assert demo.post("/app/profiles/eindhoven/merge", data=form | {"csrf": "forged"}).status_code == 403
    assert demo.post("/app/profiles/seoul/merge", data=form | {"csrf": csrf}).status_code == 403
    assert demo.get("/profiles/eindhoven", headers=keys.auth("admin")).json()["version"] == 2
