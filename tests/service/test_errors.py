"""Bad input gets problem+json naming the field and rule, and never stores anything."""

import pytest

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
    r = client.post("/profiles", content=b"{not json", headers={**keys.auth("admin"), "content-type": "application/json"})
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)


def test_body_over_the_limit_is_413(app, client, keys):
    limit = app.state.settings.max_request_bytes
    r = client.post("/profiles", content=b"x" * (limit + 1), headers={**keys.auth("admin"), "content-type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"].startswith(PROBLEM)


def test_unknown_route_is_problem_json(client, keys):
    r = client.get("/nowhere", headers=keys.auth("admin"))
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)


def test_missing_profile_is_404_problem(client, keys):
    r = client.get("/profiles/nobody", headers=keys.auth("admin"))
    assert r.status_code == 404 and r.json()["title"] == "Profile not found"
