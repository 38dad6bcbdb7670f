"""`twinning keys create|list|revoke` on both databases: the secret is printed once, the list never shows
it, and a revoked key (named by id or prefix) is refused at once."""

import json

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from service.auth import principal_for_secret
from service.cli import app
from service.db.engine import make_engine, make_sessionmaker
from service.db.models import ApiKey
from service.errors import NotAuthenticated
from service.settings import get_settings
from tests.conftest import DATA

runner = CliRunner()


@pytest.fixture
def db(database_url, monkeypatch):
    monkeypatch.setenv("TWINNING_DATABASE_URL", database_url)
    monkeypatch.setenv("TWINNING_DATA_DIR", str(DATA))
    get_settings.cache_clear()
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()
    get_settings.cache_clear()


def create(*args: str) -> str:
    r = runner.invoke(app, ["keys", "create", *args])
    assert r.exit_code == 0, r.output
    return r.stdout.strip()


def refused(db, secret: str) -> bool:
    with db() as session:
        try:
            principal_for_secret(session, secret)
        except NotAuthenticated:
            return True
    return False


def test_the_list_shows_every_key_but_never_a_secret(db):
    admin = create("--role", "admin")
    member = create("--role", "member", "--profile", "eindhoven", "--name", "Eindhoven office")
    r = runner.invoke(app, ["keys", "list"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["id", "prefix", "role", "label", "profile", "created", "revoked"]
    assert lines[1].split()[:5] == ["1", admin[:10], "admin", "key-1", "-"]
    assert lines[2].split()[:6] == ["2", member[:10], "member", "Eindhoven", "office", "eindhoven"]
    assert lines[2].split()[-1] == "-"  # not revoked
    assert admin not in r.stdout and member not in r.stdout
    as_json = [json.loads(line) for line in runner.invoke(app, ["keys", "list", "--json"]).stdout.splitlines()]
    assert [(k["id"], k["prefix"], k["profile_id"]) for k in as_json] == [
        (1, admin[:10], None),
        (2, member[:10], "eindhoven"),
    ]
    assert all("secret" not in k for k in as_json)


def test_revoke_by_id_or_prefix_refuses_the_key_at_once(db):
    first, second, third = create("--role", "manager"), create("--role", "manager"), create("--role", "admin")
    r = runner.invoke(app, ["keys", "revoke", "1"])
    assert r.exit_code == 0 and "key 1" in r.stdout and "revoked" in r.stdout, r.output
    assert refused(db, first) and not refused(db, second)
    r = runner.invoke(app, ["keys", "revoke", second[:10]])
    assert r.exit_code == 0 and "key 2" in r.stdout, r.output
    assert refused(db, second)
    r = runner.invoke(app, ["keys", "revoke", third])  # the whole secret names it too
    assert r.exit_code == 0 and "key 3" in r.stdout
    again = runner.invoke(app, ["keys", "revoke", "1"])
    assert again.exit_code == 0 and "already revoked" in again.stdout
    listed = runner.invoke(app, ["keys", "list"]).stdout.splitlines()[1:]
    assert all(line.split()[-1] != "-" for line in listed)  # each shows when it was revoked
    assert runner.invoke(app, ["keys", "list", "--active"]).stdout.splitlines()[1:] == []


def test_revoke_refuses_what_names_no_key_or_several(db):
    create("--role", "manager")
    create("--role", "manager")
    with db() as session:  # two keys whose prefixes share a start
        session.execute(update(ApiKey).where(ApiKey.id == 1).values(prefix="tw_abcdefX"))
        session.execute(update(ApiKey).where(ApiKey.id == 2).values(prefix="tw_abcdefY"))
        session.commit()
    for reference, message in (
        ("99", "no key has id 99"),
        ("tw_zzzzzzz", "no key has the prefix"),
        ("tw_ab", "at least 4 characters"),
        ("manager", "by its id or by its prefix"),
        ("²", "by its id or by its prefix"),
        ("tw_abcdef", "names several keys (ids 1, 2)"),
    ):
        r = runner.invoke(app, ["keys", "revoke", reference])
        assert r.exit_code == 2 and message in r.output, (reference, r.output)
    r = runner.invoke(app, ["keys", "revoke", "tw_abcdefY"])
    assert r.exit_code == 0 and "key 2" in r.stdout
