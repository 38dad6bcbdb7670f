"""Workspace sessions in the database, on both databases: two app instances (two workers) share them,
a new instance (a restart) keeps them, the table holds only the token's hash, sign-out deletes the
row, expired sessions are refused and pruned, and one-time messages cross instances."""

import hashlib
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from service.app import create_app
from service.db.models import WorkspaceFlash, WorkspaceSession, utcnow
from service.web.sessions import SessionStore, token_hash
from tests.factories import city


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name!r} on the page"
    return found.group(1)


def sign_in(client: TestClient, key: str) -> str:
    """Sign in through the form; returns the session cookie's value."""
    form = client.get("/app/login")
    r = client.post(
        "/app/login", data={"key": key, "login_token": hidden(form.text, "login_token")}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    return client.cookies["twinning_session"]


def signed_in(client: TestClient) -> bool:
    """Whether the client's cookie opens a session (`/app` sends the signed-in home, others to sign in)."""
    return not client.get("/app", follow_redirects=False).headers["location"].startswith("/app/login")


def with_cookie(app, cookie: str) -> TestClient:
    other = TestClient(app)
    other.cookies.set("twinning_session", cookie, path="/app")
    return other


def rows(app) -> list[WorkspaceSession]:
    with app.state.sessions() as session:
        return list(session.scalars(select(WorkspaceSession).order_by(WorkspaceSession.id)))


def test_the_table_holds_only_the_hash_of_the_cookies_token(app, client, keys):
    cookie = sign_in(client, keys.manager)
    (row,) = rows(app)
    assert row.token_hash == hashlib.sha256(cookie.encode()).hexdigest() == token_hash(cookie)
    assert row.key_id == 2  # the manager's key, by id: its secret is stored nowhere
    assert len(cookie) >= 43  # 256 random bits
    stored = " ".join(str(getattr(row, c.key)) for c in WorkspaceSession.__table__.columns)
    assert cookie not in stored and keys.manager not in stored
    assert row.last_seen_at is not None and row.expires_at > row.created_at


def test_two_app_instances_over_one_database_share_a_session(app, client, keys, settings):
    cookie = sign_in(client, keys.member)
    second = create_app(settings)  # another worker process, as far as sessions go
    with with_cookie(second, cookie) as there:
        assert signed_in(there)
        assert there.get("/app", follow_redirects=False).headers["location"] == "/app/profiles/eindhoven"
        # signing out in one worker signs out in the other
        csrf = hidden(there.get("/app/profiles").text, "csrf")
        assert there.post("/app/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert not signed_in(client)
    assert rows(app) == []


def test_a_new_app_instance_accepts_a_cookie_made_by_the_first(app, client, keys, settings):
    cookie = sign_in(client, keys.manager)
    app.state.engine.dispose()  # the first server stops
    restarted = create_app(settings)
    with with_cookie(restarted, cookie) as again:
        assert signed_in(again)
        assert again.get("/app/profiles").status_code == 200


def test_a_message_queued_in_one_worker_is_shown_once_by_another(app, client, keys, settings):
    admin = keys.auth("admin")
    for body in (city("eindhoven"), city("seoul", country="KR", bloc="KR")):
        assert client.post("/profiles", json=body, headers=admin).status_code == 201
    cookie = sign_in(client, keys.manager)
    csrf = hidden(client.get("/app/profiles").text, "csrf")
    r = client.post(
        "/app/profiles/eindhoven/suggestions/seoul/reject",
        data={"csrf": csrf, "reason": "not now", "back": "/app/profiles/eindhoven"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/app/profiles/eindhoven"
    with with_cookie(create_app(settings), cookie) as there:
        page = there.get("/app/profiles/eindhoven")
        assert "will not be suggested" in page.text and "not now" in page.text
        assert "will not be suggested" not in there.get("/app/profiles/eindhoven").text
    assert "will not be suggested" not in client.get("/app/profiles/eindhoven").text
    with app.state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WorkspaceFlash)) == 0


def test_an_expired_session_is_refused_and_deleted(app, client, keys):
    sign_in(client, keys.manager)
    stale = TestClient(app)
    sign_in(stale, keys.admin)
    with app.state.sessions() as session:
        session.execute(update(WorkspaceSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    r = client.get("/app/profiles", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/app/login")
    assert [row.key_id for row in rows(app)] == [1]  # the one met is gone; the other waits for the next sign-in
    sign_in(client, keys.manager)
    assert [row.key_id for row in rows(app)] == [2]  # a sign-in prunes every expired session
    assert not signed_in(stale)


@pytest.fixture
def store(app) -> SessionStore:
    return SessionStore(app.state.sessions, idle_seconds=3600, max_seconds=4 * 3600)


def age(app, session_id: int, **back: timedelta) -> None:
    """Move a session's times into the past, as if time had gone by."""
    with app.state.sessions() as session:
        row = session.get(WorkspaceSession, session_id)
        for column, delta in back.items():
            setattr(row, column, getattr(row, column) - delta)
        session.commit()


def test_using_a_session_moves_its_idle_end_up_to_its_absolute_end(app, store, keys):
    opened = store.open(2)
    (row,) = rows(app)
    assert abs(row.expires_at - row.created_at - timedelta(hours=1)) < timedelta(seconds=1)  # idle limit first
    age(app, opened.id, last_seen_at=timedelta(minutes=30), created_at=timedelta(minutes=30))
    assert store.get(opened.token) is not None
    (row,) = rows(app)
    assert abs(row.expires_at - (row.last_seen_at + timedelta(hours=1))) < timedelta(seconds=1)
    # three and a half hours after sign-in, an hour of idle time would pass the four hours' limit
    age(app, opened.id, created_at=timedelta(hours=3), last_seen_at=timedelta(minutes=30))
    assert store.get(opened.token) is not None
    (row,) = rows(app)
    assert abs(row.expires_at - (row.created_at + timedelta(hours=4))) < timedelta(seconds=1)


def test_a_page_view_writes_last_seen_at_most_once_a_minute(app, store, keys):
    opened = store.open(2)
    (before,) = rows(app)
    assert store.get(opened.token) is not None
    assert rows(app)[0].last_seen_at == before.last_seen_at
    age(app, opened.id, last_seen_at=timedelta(seconds=61))
    assert store.get(opened.token) is not None
    assert rows(app)[0].last_seen_at > before.last_seen_at


def test_a_token_opens_only_its_own_session(app, store, keys):
    mine, theirs = store.open(2), store.open(3)
    assert store.get(mine.token).key_id == 2 and store.get(theirs.token).key_id == 3
    assert mine.csrf != theirs.csrf and mine.csrf != mine.token
    for wrong in (None, "", mine.token[:-1], token_hash(mine.token)):
        assert store.get(wrong) is None
    store.close(mine.token)
    assert store.get(mine.token) is None and store.get(theirs.token) is not None
    assert store.prune() == 0
