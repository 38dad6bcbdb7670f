"""Route by route: 401 without a valid key, 403 outside the role, allowed inside it."""

import pytest

from tests.factories import city

BUNDLE = {"format": "twinning.bundle/1", "profiles": [city("tampere", country="FI")]}


@pytest.fixture
def seeded(client, keys):
    for body in (city("eindhoven"), city("seoul", country="KR", bloc="KR")):
        assert client.post("/profiles", json=body, headers=keys.auth("admin")).status_code == 201
    return client


ROUTES = [
    ("GET", "/profiles", None),
    ("GET", "/profiles/eindhoven", None),
    ("POST", "/profiles", city("gwangju", country="KR", bloc="KR")),
    ("PUT", "/profiles/eindhoven", city("eindhoven", name="Eindhoven NL")),
    ("PATCH", "/profiles/eindhoven", {"name": "Eindhoven NL"}),
    ("DELETE", "/profiles/seoul", None),
    ("POST", "/bundles", BUNDLE),
    ("GET", "/bundles", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Basic abc"])
def test_every_route_needs_a_valid_key(seeded, method, path, body, auth):
    headers = {"Authorization": auth} if auth else {}
    r = seeded.request(method, path, json=body, headers={**headers, "If-Match": '"1"'})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


EXPECTED = {
    # role: (GET list, GET one, POST other city, PUT own, PATCH own, DELETE other, POST bundle, GET bundle)
    "admin": (200, 200, 201, 200, 200, 204, 200, 200),
    "manager": (200, 200, 201, 200, 200, 204, 200, 200),
    "member": (200, 200, 403, 200, 200, 403, 403, 403),
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
@pytest.mark.parametrize("index", range(len(ROUTES)))
def test_role_rules(seeded, keys, role, index):
    method, path, body = ROUTES[index]
    r = seeded.request(method, path, json=body, headers={**keys.auth(role), "If-Match": '"1"'})
    assert r.status_code == EXPECTED[role][index], r.text
    if r.status_code == 403:
        assert r.headers["content-type"].startswith("application/problem+json")


def test_member_may_create_only_its_own_profile(client, keys):
    assert (
        client.post("/profiles", json=city("seoul", country="KR", bloc="KR"), headers=keys.auth("member")).status_code
        == 403
    )
    assert client.post("/profiles", json=city("eindhoven"), headers=keys.auth("member")).status_code == 201


def test_member_cannot_touch_another_profile(seeded, keys):
    h = {**keys.auth("member"), "If-Match": '"1"'}
    assert seeded.put("/profiles/seoul", json=city("seoul", country="KR", bloc="KR"), headers=h).status_code == 403
    assert seeded.delete("/profiles/seoul", headers=h).status_code == 403
    assert seeded.get("/profiles/seoul", headers=keys.auth("manager")).json()["version"] == 1


@pytest.mark.parametrize(
    ("method", "body"),
    [("PUT", city("seoul", country="KR", bloc="KR")), ("PATCH", {"name": "Seoul KR"}), ("DELETE", None)],
)
def test_authorisation_comes_before_preconditions(seeded, keys, method, body):
    """A key that may not write a profile learns 403 whatever its If-Match; a missing profile 404; only then 428."""
    for if_match in ({}, {"If-Match": '"x"'}, {"If-Match": '"1"'}):
        r = seeded.request(method, "/profiles/seoul", json=body, headers={**keys.auth("member"), **if_match})
        assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json"), (
            if_match,
            r.text,
        )
    assert seeded.request(method, "/profiles/tampere", json=body, headers=keys.auth("admin")).status_code == 404
    assert seeded.request(method, "/profiles/seoul", json=body, headers=keys.auth("other_member")).status_code == 428
    assert seeded.get("/profiles/seoul", headers=keys.auth("manager")).json()["version"] == 1


def test_health_and_docs_are_open(client):
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    assert "/profiles" in client.get("/openapi.json").json()["paths"]
