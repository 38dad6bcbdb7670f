"""Bad input gets problem+json naming the field and rule, and never stores anything."""

import pytest
from fastapi.testclient import TestClient

from service.db import store
from service.db.engine import session_scope
from service.db.models import Run
from service.schemas import MAX_ROW_ID
from tests.factories import city

PROBLEM = "application/problem+json"


def _pointers(r) -> dict[str, str]:
    return {e["pointer"]: e["detail"] for e in r.json().get("errors", [])}


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"id": "Bad Id!"}, "/id"),
        ({"id": "x" * 65}, "/id"),
        ({"country": "XX"}, "/country"),
        ({"country": "nl"}, "/country"),
        ({"description": "d" * 5001}, "/description"),
        ({"interests": [f"theme {i}" for i in range(51)]}, "/interests"),
        ({"offers": ["o" * 201]}, "/offers/0"),
        ({"kind": "village"}, "/kind"),
        ({"org_type": "company"}, "/org_type"),
        ({"interests": []}, "/interests"),
        ({"colour": "blue"}, "/colour"),
    ],
)
def test_invalid_profile_is_422_with_pointer_and_nothing_stored(client, keys, change, pointer):
    r = client.post("/profiles", json=city(**change), headers=keys.auth("admin"))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == 422 and body["title"] and body["detail"]
    assert pointer in _pointers(r), body
    assert client.get("/profiles", headers=keys.auth("admin")).json()["total"] == 0


def test_organisation_needs_org_type(client, keys):
    r = client.post("/profiles", json=city("philips", kind="organisation", interests=[]), headers=keys.auth("admin"))
    assert r.status_code == 422 and "/org_type" in _pointers(r)


def test_malformed_json_is_a_problem(client, keys):
    r = client.post(
        "/profiles", content=b"{not json", headers={**keys.auth("admin"), "content-type": "application/json"}
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)


def test_body_over_the_limit_is_413(app, client, keys):
    limit = app.state.settings.max_request_bytes
    r = client.post(
        "/profiles", content=b"x" * (limit + 1), headers={**keys.auth("admin"), "content-type": "application/json"}
    )
    assert r.status_code == 413 and r.headers["content-type"].startswith(PROBLEM)


def test_unknown_route_is_problem_json(client, keys):
    r = client.get("/nowhere", headers=keys.auth("admin"))
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)


def test_missing_profile_is_404_problem(client, keys):
    r = client.get("/profiles/nobody", headers=keys.auth("admin"))
    assert r.status_code == 404 and r.json()["title"] == "Profile not found"


# requests that once answered 500 (issue 17): each is now a 4xx problem, on both databases


@pytest.fixture
def two_cities(client, keys):
    for body in (city("eindhoven"), city("seoul", country="KR", bloc="KR")):
        assert client.post("/profiles", json=body, headers=keys.auth("admin")).status_code == 201
    return client


SIDES = {"EU": ["eindhoven"], "KR": ["seoul"]}


@pytest.mark.parametrize(
    ("method", "path", "body", "pointer"),
    [
        ("POST", "/profiles", city("tampere", name="Tam\x00pere"), "/name"),
        ("POST", "/profiles", city("tampere", name="Tam\npere"), "/name"),
        ("POST", "/profiles", city("tampere", description="A city\x07 of saunas."), "/description"),
        ("POST", "/profiles", city("tampere", interests=["living\x00labs"]), "/interests/0"),
        ("POST", "/profiles", city("tampere", offers=["saunas\x1b[31m"]), "/offers/0"),
        ("PATCH", "/profiles/eindhoven", {"description": "\x00"}, "/description"),
        ("GET", "/profiles?q=lab%00", None, "/query/q"),
        ("GET", "/profiles?bloc=E%00U", None, "/query/bloc"),
        ("GET", "/profiles/eind%00hoven", None, "/path/profile_id"),
        ("DELETE", "/profiles/eindhoven/exclusions/se%00oul", None, "/path/other"),
        ("POST", "/profiles/eindhoven/suggestions/seoul/reject", {"reason": "not\x00now"}, "/reason"),
        ("POST", "/profiles/eindhoven/exclusions", {"excluded": "seoul", "reason": "\x00"}, "/reason"),
        ("PUT", "/cohorts/pilot", {"name": "Pilot\x00", "sides": SIDES}, "/name"),
        (
            "POST",
            "/bundles",
            {"format": "twinning.bundle/1", "partnerships": [{"a": "eindhoven", "b": "seoul", "programme": "IUC\x00"}]},
            "/partnerships/0/programme",
        ),
        (
            "POST",
            "/bundles",
            {
                "format": "twinning.bundle/1",
                "exclusions": [{"profile": "eindhoven", "excluded": "seoul", "reason": "\x00"}],
            },
            "/exclusions/0/reason",
        ),
    ],
)
def test_nul_and_control_characters_are_422_naming_the_field_and_nothing_is_stored(
    two_cities, keys, method, path, body, pointer
):
    h = keys.auth("admin")
    r = two_cities.request(method, path, json=body, headers={**h, "If-Match": '"1"'})
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM), r.text
    assert pointer in _pointers(r), r.json()
    assert two_cities.get("/profiles", headers=h).json()["total"] == 2
    assert two_cities.get("/profiles/eindhoven", headers=h).json()["version"] == 1
    assert two_cities.get("/profiles/eindhoven/exclusions", headers=h).json() == []
    assert two_cities.get("/cohorts", headers=h).json() == []
    assert two_cities.get("/bundles", headers=h).json()["partnerships"] == []


def test_the_problem_names_the_control_character(client, keys):
    r = client.post("/profiles", json=city(name="Eind\x00hoven"), headers=keys.auth("admin"))
    assert _pointers(r)["/name"] == "must not contain control characters (found U+0000)"


def test_free_text_keeps_tabs_and_line_breaks(client, keys):
    description = "A city of design.\n\tIt wants\r\npartners abroad."
    r = client.post("/profiles", json=city(description=description), headers=keys.auth("admin"))
    assert r.status_code == 201 and r.json()["description"] == description


def test_run_and_job_ids_beyond_any_row_are_422_and_the_largest_is_looked_up(client, keys):
    h = keys.auth("manager")
    for n in (2**31, 2**63, 10**30):
        for path, name in ((f"/jobs/{n}", "job_id"), (f"/runs/{n}", "run_id"), (f"/runs/{n}/diff", "run_id")):
            r = client.get(path, headers=h)
            assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM), (path, r.text)
            assert f"/path/{name}" in _pointers(r)
    for path in (f"/jobs/{MAX_ROW_ID}", f"/runs/{MAX_ROW_ID}"):
        assert client.get(path, headers=h).status_code == 404


def test_a_run_to_compare_against_is_ascii_digits(app, client, keys):
    with session_scope(app.state.sessions) as session:
        session.add(Run(state="succeeded", model_id="test"))
    h = keys.auth("manager")
    for against in ("²", "١", "1.0", "-1", str(2**31)):
        r = client.get("/runs/1/diff", params={"against": against}, headers=h)
        assert r.status_code == 422 and "/query/against" in _pointers(r), (against, r.text)
    assert client.get("/runs/1/diff", params={"against": "1"}, headers=h).json()["changes"] == []


def test_a_cohort_id_in_the_path_must_be_an_id(two_cities, keys):
    h = keys.auth("manager")
    r = two_cities.put("/cohorts/Bad%20Id", json={"name": "Pilot", "sides": SIDES}, headers=h)
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    assert "/path/cohort_id" in _pointers(r)
    assert two_cities.get("/cohorts", headers=h).json() == []


def test_an_unexpected_error_is_a_500_problem_that_closes_the_connection(app, keys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(store, "list_profiles", broken)
    r = TestClient(app, raise_server_exceptions=False).get("/profiles", headers=keys.auth("admin"))
    assert r.status_code == 500 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["title"] == "Internal server error"
    # the server drops the connection after an unhandled error; the client must not reuse it
    assert r.headers["connection"] == "close"
