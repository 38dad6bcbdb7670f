"""The workspace's sign-in rate limit on both databases: failed attempts per client address in a sliding
window, counted in the database so that every worker sees them, refused with 429 and Retry-After."""

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.app import create_app
from service.db.models import SignInAttempt
from service.settings import Settings
from service.web.sign_in_limit import SignInLimit
from tests.conftest import DATA

ATTEMPTS, WINDOW = 3, 60


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(database_url=database_url, data_dir=DATA, sign_in_attempts=ATTEMPTS, sign_in_window_seconds=WINDOW)


def try_key(client: TestClient, key: str):
    form = client.get("/app/login")
    token = re.search(r'name="login_token" value="([^"]*)"', form.text).group(1)
    return client.post("/app/login", data={"key": key, "login_token": token}, follow_redirects=False)


def attempts(app) -> int:
    with app.state.sessions() as session:
        return session.scalar(select(func.count()).select_from(SignInAttempt))


def earlier(app, delta: timedelta, *, only_oldest: bool = False) -> None:
    """Move stored attempts into the past, as if time had gone by."""
    with app.state.sessions() as session:
        rows = session.scalars(select(SignInAttempt).order_by(SignInAttempt.id)).all()
        for row in rows[:1] if only_oldest else rows:
            row.attempted_at -= delta
        session.commit()


def test_a_client_past_its_failed_attempts_waits_whatever_the_key(client, keys):
    for _ in range(ATTEMPTS):
        assert try_key(client, "tw_guess").status_code == 401
    for key in ("tw_guess", keys.manager):
        r = try_key(client, key)
        assert r.status_code == 429, key
        assert 0 < int(r.headers["retry-after"]) <= WINDOW
        assert "Too many sign-in attempts" in r.text and "try again" in r.text
        assert "twinning_session" not in r.headers.get("set-cookie", "")
        assert 'name="login_token"' in r.text  # the form is there for later


def test_other_addresses_keep_their_own_limit(app, client, keys):
    for _ in range(ATTEMPTS):
        try_key(client, "tw_guess")
    assert try_key(client, keys.manager).status_code == 429
    with TestClient(app, client=("203.0.113.7", 50000)) as elsewhere:
        assert try_key(elsewhere, keys.manager).status_code == 303


def test_successful_sign_ins_do_not_count(app, client, keys):
    for _ in range(ATTEMPTS + 2):
        assert try_key(client, keys.manager).status_code == 303
    assert attempts(app) == 0
    assert try_key(client, "tw_guess").status_code == 401
    assert attempts(app) == 1


def test_the_window_slides(app, client, keys):
    for _ in range(ATTEMPTS):
        try_key(client, "tw_guess")
    assert try_key(client, keys.manager).status_code == 429
    earlier(app, timedelta(seconds=WINDOW), only_oldest=True)  # the oldest attempt leaves the window
    assert try_key(client, keys.manager).status_code == 303
    assert attempts(app) == ATTEMPTS - 1  # the old one was pruned, the refused and the successful not kept


def test_every_worker_counts_the_same_attempts(app, client, keys, settings):
    with TestClient(create_app(settings)) as second:  # another worker over the same database
        assert try_key(client, "tw_guess").status_code == 401
        assert try_key(second, "tw_guess").status_code == 401
        assert try_key(client, "tw_guess").status_code == 401
        r = try_key(second, keys.manager)
        assert r.status_code == 429 and r.headers["retry-after"]
    # and a restart forgets nothing
    assert try_key(TestClient(create_app(settings)), keys.manager).status_code == 429


def test_retry_after_counts_to_when_the_oldest_attempt_leaves(app):
    limit = SignInLimit(app.state.sessions, attempts=2, window_seconds=100)
    assert not limit.begin("a").refused and not limit.begin("a").refused
    earlier(app, timedelta(seconds=40))
    refused = limit.begin("a")
    assert refused.refused and 58 <= refused.retry_after <= 61


def test_attempts_made_at_once_never_pass_the_limit(app):
    limit = SignInLimit(app.state.sessions, attempts=5, window_seconds=WINDOW)
    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(lambda _: limit.begin("10.0.0.1"), range(24)))
    passed = [a for a in made if not a.refused]
    assert len(passed) <= 5  # at worst some are refused that a one-by-one count would have let in
    assert attempts(app) == len(passed)  # the refused ones are not kept
    while len(passed) < 5:
        passed.append(limit.begin("10.0.0.1"))
        assert not passed[-1].refused
    assert limit.begin("10.0.0.1").refused
    for attempt in passed:
        limit.forget(attempt)
    assert attempts(app) == 0
