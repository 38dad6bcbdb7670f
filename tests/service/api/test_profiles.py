"""Profiles through the HTTP API: validation, versions, filters, pagination, on both databases."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from service.db.models import Profile
from tests.factories import city

PROBLEM = "application/problem+json"


def test_create_read_and_etag(client, keys):
    r = client.post("/profiles", json=city(), headers=keys.auth("admin"))
    assert r.status_code == 201, r.text
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"] == "/profiles/eindhoven"
    got = client.get("/profiles/eindhoven", headers=keys.auth("manager")).json()
    assert got["interests"] == ["intelligent public lighting", "living labs"]
    assert got["offers"] == ["smart lighting pilots with industry"]
    assert got["version"] == 1


def test_duplicate_id_is_409(client, keys):
    client.post("/profiles", json=city(), headers=keys.auth("admin"))
    r = client.post("/profiles", json=city(), headers=keys.auth("admin"))
    assert r.status_code == 409
    assert r.headers["content-type"].startswith(PROBLEM)


def test_put_with_stale_version_is_412_and_keeps_the_newer_write(client, keys):
    client.post("/profiles", json=city(), headers=keys.auth("admin"))
    first = city(interests=["hydrogen buses"])
    r1 = client.put("/profiles/eindhoven", json=first, headers={**keys.auth("member"), "If-Match": '"1"'})
    assert r1.status_code == 200 and r1.json()["version"] == 2
    second = city(interests=["bike sharing"])
    r2 = client.put("/profiles/eindhoven", json=second, headers={**keys.auth("member"), "If-Match": '"1"'})
    assert r2.status_code == 412
    assert r2.json()["current_version"] == 2
    assert client.get("/profiles/eindhoven", headers=keys.auth("member")).json()["interests"] == ["hydrogen buses"]


@pytest.mark.parametrize(
    ("method", "body"),
    [("PUT", city(interests=["hydrogen buses"])), ("PATCH", {"offers": ["start-up exchange"]}), ("DELETE", None)],
)
def test_a_write_that_loses_the_race_for_the_same_version_is_412(app, client, keys, method, body):
    """Two editors send the same If-Match at once: the one whose write lands second gets 412, not 500."""
    client.post("/profiles", json=city(), headers=keys.auth("admin"))
    rival_wrote = []

    @event.listens_for(app.state.sessions, "before_flush")
    def _rival_commits_first(session, flush_context, instances) -> None:
        # after this request checked the version and before its UPDATE, another editor's write commits
        if not rival_wrote:
            rival_wrote.append(True)
            with Session(app.state.engine) as rival:
                rival.get(Profile, "eindhoven").name = "Eindhoven (rival)"
                rival.commit()

    r = client.request(method, "/profiles/eindhoven", json=body, headers={**keys.auth("member"), "If-Match": '"1"'})
    assert rival_wrote and r.status_code == 412, r.text
    assert r.headers["content-type"].startswith(PROBLEM) and r.json()["title"] == "Version conflict"
    got = client.get("/profiles/eindhoven", headers=keys.auth("member"))
    assert got.headers["ETag"] == '"2"'
    assert {k: got.json()[k] for k in ("name", "interests", "offers")} == {
        "name": "Eindhoven (rival)",
        "interests": city()["interests"],
        "offers": city()["offers"],
    }


def as_latin1_headers(app):
    """The app as a server hands it header bytes sent as Latin-1, where "²" is the one byte 0xB2.

    TestClient re-encodes header values as UTF-8, so "²" would arrive as the two characters "Â²".
    """

    async def asgi(scope, receive, send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "headers": [(k, v.decode().encode("latin-1")) for k, v in scope["headers"]]}
        await app(scope, receive, send)

    return asgi


def test_if_match_is_ascii_digits(app, client, keys):
    client.post("/profiles", json=city(), headers=keys.auth("admin"))
    raw = TestClient(as_latin1_headers(app))
    for value in ('"²"', '"1²"', '"¹"', '"-1"', '"1.0"', f'"{2**31}"', '"9' + "9" * 5000 + '"'):
        r = raw.put(
            "/profiles/eindhoven", json=city(), headers={**keys.auth("member"), "If-Match": value.encode("latin-1")}
        )
        assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM), (value[:10], r.text)
        assert r.json()["errors"] == [{"pointer": "/headers/If-Match", "detail": "not a version number"}]
    r = raw.put(
        "/profiles/eindhoven", json=city(name="Eindhoven NL"), headers={**keys.auth("member"), "If-Match": '"1"'}
    )
    assert r.status_code == 200 and r.json()["version"] == 2


def test_write_without_if_match_is_428(client, keys):
    client.post("/profiles", json=city(), headers=keys.auth("admin"))
    r = client.put("/profiles/eindhoven", json=city(), headers=keys.auth("admin"))
    assert r.status_code == 428
    r = client.delete("/profiles/eindhoven", headers=keys.auth("admin"))
    assert r.status_code == 428


def test_patch_changes_only_given_fields_and_bumps_version(client, keys):
    client.post("/profiles", json=city(), headers=keys.auth("admin"))
    r = client.patch(
        "/profiles/eindhoven",
        json={"offers": ["start-up exchange"]},
        headers={**keys.auth("member"), "If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["offers"] == ["start-up exchange"]
    assert body["interests"] == ["intelligent public lighting", "living labs"]
    assert body["version"] == 2 and r.headers["ETag"] == '"2"'


def test_patch_that_breaks_a_whole_profile_rule_changes_nothing(client, keys):
    client.post("/profiles", json=city(), headers=keys.auth("admin"))
    r = client.patch("/profiles/eindhoven", json={"interests": []}, headers={**keys.auth("admin"), "If-Match": '"1"'})
    assert r.status_code == 422
    assert r.json()["errors"][0]["pointer"] == "/interests"
    assert client.get("/profiles/eindhoven", headers=keys.auth("admin")).json()["version"] == 1


def test_unchanged_put_keeps_version(client, keys):
    client.post("/profiles", json=city(), headers=keys.auth("admin"))
    r = client.put("/profiles/eindhoven", json=city(), headers={**keys.auth("admin"), "If-Match": '"1"'})
    assert r.json()["version"] == 1


def test_delete_with_version(client, keys):
    client.post("/profiles", json=city(), headers=keys.auth("admin"))
    assert client.delete("/profiles/eindhoven", headers={**keys.auth("admin"), "If-Match": '"9"'}).status_code == 412
    assert client.delete("/profiles/eindhoven", headers={**keys.auth("admin"), "If-Match": '"1"'}).status_code == 204
    assert client.get("/profiles/eindhoven", headers=keys.auth("admin")).status_code == 404


def test_list_filters_search_and_cursor_pagination(client, keys):
    bodies = [
        city("eindhoven"),
        city("seoul", country="KR", bloc="KR", interests=["m-voting", "e-governance"]),
        city("busan", country="KR", bloc="KR", interests=["smart city expo"]),
        {
            **city("philips", kind="organisation", org_type="company", interests=[]),
            "offers": ["connected LED street lighting"],
        },
    ]
    for b in bodies:
        assert client.post("/profiles", json=b, headers=keys.auth("admin")).status_code == 201
    h = keys.auth("manager")
    assert [p["id"] for p in client.get("/profiles?kind=organisation", headers=h).json()["items"]] == ["philips"]
    assert [p["id"] for p in client.get("/profiles?bloc=KR", headers=h).json()["items"]] == ["busan", "seoul"]
    assert [p["id"] for p in client.get("/profiles?country=kr&kind=city", headers=h).json()["items"]] == [
        "busan",
        "seoul",
    ]
    assert [p["id"] for p in client.get("/profiles?q=M-VOTING", headers=h).json()["items"]] == ["seoul"]
    assert [p["id"] for p in client.get("/profiles?q=LED street", headers=h).json()["items"]] == ["philips"]
    page1 = client.get("/profiles?limit=3", headers=h).json()
    assert [p["id"] for p in page1["items"]] == ["busan", "eindhoven", "philips"] and page1["total"] == 4
    page2 = client.get(f"/profiles?limit=3&cursor={page1['next_cursor']}", headers=h).json()
    assert [p["id"] for p in page2["items"]] == ["seoul"] and page2["next_cursor"] is None


def test_search_with_like_wildcards_is_literal(client, keys):
    client.post("/profiles", json=city(), headers=keys.auth("admin"))
    assert client.get("/profiles?q=%25", headers=keys.auth("admin")).json()["total"] == 0
