"""The admin's keys API on both databases: create (the secret once), list, revoke; a revoked key and a
deleted profile's member key are refused at once, on the API and in the workspace."""

import re
from datetime import datetime

from sqlalchemy import func, select

from service.db.models import ApiKey, WorkspaceSession
from tests.factories import city


def sign_in(client, key: str) -> None:
    form = client.get("/app/login")
    token = re.search(r'name="login_token" value="([^"]*)"', form.text).group(1)
    r = client.post("/app/login", data={"key": key, "login_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text


def test_an_admin_creates_a_key_whose_secret_is_shown_once(client, keys):
    r = client.post("/keys", json={"role": "manager", "name": "IUC office"}, headers=keys.auth("admin"))
    assert r.status_code == 201, r.text
    made = r.json()
    secret = made["secret"]
    assert secret.startswith("tw_") and made["prefix"] == secret[:10]
    assert r.headers["location"] == f"/keys/{made['id']}"
    assert (made["role"], made["name"], made["label"], made["profile_id"], made["revoked_at"]) == (
        "manager",
        "IUC office",
        "IUC office",
        None,
        None,
    )
    assert client.get("/profiles", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listed = client.get("/keys", headers=keys.auth("admin"))
    one = client.get(f"/keys/{made['id']}", headers=keys.auth("admin"))
    assert listed.status_code == 200 and one.status_code == 200
    for answer in (listed, one):
        assert secret not in answer.text and "secret" not in answer.text
    assert one.json() == {k: v for k, v in made.items() if k != "secret"}
    assert [k["id"] for k in listed.json()] == [1, 2, 3, 4, made["id"]]  # the fixture's four, oldest first


def test_the_listing_says_who_each_key_is_with_times_in_utc(client, keys):
    rows = client.get("/keys", headers=keys.auth("admin")).json()
    assert [(k["role"], k["profile_id"], k["label"]) for k in rows] == [
        ("admin", None, "key-1"),
        ("manager", None, "key-2"),
        ("member", "eindhoven", "key-3"),
        ("member", "seoul", "key-4"),
    ]
    for row in rows:
        assert set(row) == {"id", "role", "name", "label", "profile_id", "prefix", "created_at", "revoked_at"}
        assert datetime.fromisoformat(row["created_at"]).utcoffset().total_seconds() == 0  # RFC 3339, UTC


def test_only_admins_manage_keys(client, keys):
    for role in ("manager", "member"):
        assert client.get("/keys", headers=keys.auth(role)).status_code == 403
        assert client.post("/keys", json={"role": "admin"}, headers=keys.auth(role)).status_code == 403
        assert client.post("/keys/1/revoke", headers=keys.auth(role)).status_code == 403
    r = client.get("/keys")
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert client.post("/keys/1/revoke").status_code == 401


def test_a_key_must_be_bound_as_its_role_says(client, keys):
    admin = keys.auth("admin")
    for body, where in (
        ({"role": "member"}, None),
        ({"role": "manager", "profile_id": "eindhoven"}, None),
        ({"role": "emperor"}, "/role"),
        ({"role": "member", "profile_id": "Not An Id"}, "/profile_id"),
        ({"role": "admin", "name": "tab\there"}, "/name"),
        ({"role": "admin", "secret": "tw_mine"}, "/secret"),
    ):
        r = client.post("/keys", json=body, headers=admin)
        assert r.status_code == 422, body
        assert r.headers["content-type"] == "application/problem+json"
        if where:
            assert [e["pointer"] for e in r.json()["errors"]] == [where], body
    # a member key may be made before its profile: the member creates the profile with it
    r = client.post("/keys", json={"role": "member", "profile_id": "tampere"}, headers=admin)
    assert r.status_code == 201
    member = {"Authorization": f"Bearer {r.json()['secret']}"}
    assert client.post("/profiles", json=city("tampere", country="FI"), headers=member).status_code == 201


def test_a_revoked_key_is_refused_at_once_everywhere(app, client, keys):
    sign_in(client, keys.manager)
    assert client.get("/app", follow_redirects=False).headers["location"] == "/app/profiles"
    assert client.get("/profiles", headers=keys.auth("manager")).status_code == 200
    revoked = client.post("/keys/2/revoke", headers=keys.auth("admin"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    r = client.get("/profiles", headers=keys.auth("manager"))
    assert r.status_code == 401 and r.json()["detail"] == "the API key is not valid"
    assert client.get("/app", follow_redirects=False).headers["location"].startswith("/app/login")
    with app.state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WorkspaceSession)) == 0
    # nor can it sign in again
    form = client.get("/app/login")
    token = re.search(r'name="login_token" value="([^"]*)"', form.text).group(1)
    assert client.post("/app/login", data={"key": keys.manager, "login_token": token}).status_code == 401
    # revoking it again changes nothing; the other keys live on
    again = client.post("/keys/2/revoke", headers=keys.auth("admin"))
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert client.get("/profiles", headers=keys.auth("member")).status_code == 200


def test_revoking_its_own_key_locks_an_admin_out(client, keys):
    assert client.post("/keys/1/revoke", headers=keys.auth("admin")).status_code == 200
    assert client.get("/keys", headers=keys.auth("admin")).status_code == 401


def test_revoking_a_missing_key_is_404_and_ids_are_bounded(client, keys):
    admin = keys.auth("admin")
    r = client.post("/keys/99/revoke", headers=admin)
    assert r.status_code == 404 and r.json()["title"] == "Key not found"
    assert client.get("/keys/99", headers=admin).status_code == 404
    for bad in ("0", str(2**31), "²", "x"):
        assert client.post(f"/keys/{bad}/revoke", headers=admin).status_code == 422, bad


def test_a_member_key_dies_with_its_profile_and_never_controls_its_successor(app, client, keys):
    member = keys.auth("member")  # bound to eindhoven
    assert client.post("/profiles", json=city("eindhoven"), headers=member).status_code == 201
    sign_in(client, keys.member)
    r = client.delete("/profiles/eindhoven", headers=member | {"If-Match": '"1"'})
    assert r.status_code == 204, r.text
    assert client.get("/profiles", headers=member).status_code == 401
    assert client.get("/app", follow_redirects=False).headers["location"].startswith("/app/login")
    # whoever takes the id next is not controlled by the old key
    assert client.post("/profiles", json=city("eindhoven", name="New Eindhoven"), headers=keys.auth("admin")).is_success
    r = client.patch("/profiles/eindhoven", json={"name": "Hijacked"}, headers=member | {"If-Match": '"1"'})
    assert r.status_code == 401
    listed = {k["id"]: k for k in client.get("/keys", headers=keys.auth("admin")).json()}
    assert listed[3]["revoked_at"] is not None and listed[4]["revoked_at"] is None
    with app.state.sessions() as session:
        assert session.scalar(select(ApiKey.revoked_at).where(ApiKey.id == 3)) is not None
