"""Profiles through the HTTP API: validation, versions, filters, pagination, on both databases."""

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


def test_write_without_if_match_is_428(client, keys):
    client.post("/profiles", json=city(), headers=keys.auth("admin"))
    r = client.put("/profiles/eindhoven", json=city(), headers=keys.auth("admin"))
    assert r.status_code == 428
    r = client.delete("/profiles/eindhoven", headers=keys.auth("admin"))
    assert r.status_code == 428


def test_patch_changes_only_given_fields_and_bumps_version(client, keys):
    client.post("/profiles", json=city(), headers=keys.auth("admin"))
    r = client.patch("/profiles/eindhoven", json={"offers": ["start-up exchange"]}, headers={**keys.auth("member"), "If-Match": '"1"'})
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
        {**city("philips", kind="organisation", org_type="company", interests=[]), "offers": ["connected LED street lighting"]},
    ]
    for b in bodies:
        assert client.post("/profiles", json=b, headers=keys.auth("admin")).status_code == 201
    h = keys.auth("manager")
    assert [p["id"] for p in client.get("/profiles?kind=organisation", headers=h).json()["items"]] == ["philips"]
    assert [p["id"] for p in client.get("/profiles?bloc=KR", headers=h).json()["items"]] == ["busan", "seoul"]
    assert [p["id"] for p in client.get("/profiles?country=kr&kind=city", headers=h).json()["items"]] == ["busan", "seoul"]
    assert [p["id"] for p in client.get("/profiles?q=M-VOTING", headers=h).json()["items"]] == ["seoul"]
    assert [p["id"] for p in client.get("/profiles?q=LED street", headers=h).json()["items"]] == ["philips"]
    page1 = client.get("/profiles?limit=3", headers=h).json()
    assert [p["id"] for p in page1["items"]] == ["busan", "eindhoven", "philips"] and page1["total"] == 4
    page2 = client.get(f"/profiles?limit=3&cursor={page1['next_cursor']}", headers=h).json()
    assert [p["id"] for p in page2["items"]] == ["seoul"] and page2["next_cursor"] is None


def test_search_with_like_wildcards_is_literal(client, keys):
    client.post("/profiles", json=city(), headers=keys.auth("admin"))
    assert client.get("/profiles?q=%25", headers=keys.auth("admin")).json()["total"] == 0
