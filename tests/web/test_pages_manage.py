"""Managing data in place, through the ASGI app on both databases: keys (admins), profiles and cohorts
(managers), and the stale-edit merge; members get 403 pages, forms without the session's CSRF token 403."""

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.db.models import ApiKey
from tests.web.test_pages import DEMO, browser, sign_in


@pytest.fixture
def demo(app, client, keys) -> TestClient:
    assert client.post("/bundles", json=DEMO, headers=keys.auth("admin")).status_code == 200
    return client


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
