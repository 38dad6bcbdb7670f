"""Two writers of the same new rows at once: the later one is answered 409 with a problem, never 500."""

import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from service.db import store
from service.db.engine import make_engine, make_sessionmaker
from service.schemas import ProfileCreate
from tests.factories import city


@pytest.fixture
def other_writer(settings) -> Iterator[sessionmaker[Session]]:
    """Sessions of another process's engine on the same database."""
    engine = make_engine(settings.database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def _first(app, write: Callable[[], None]) -> None:
    """Run `write` (another writer, committing) just before the request's own insert, after its checks."""
    event.listen(app.state.sessions, "before_flush", lambda *_: write(), once=True)


def _create(sessions: sessionmaker[Session], body: dict) -> Callable[[], None]:
    def write() -> None:
        with sessions() as session:
            store.create_profile(session, ProfileCreate.model_validate(body))
            session.commit()

    return write


def test_the_later_of_two_creates_of_one_new_id_gets_409(app, client, keys, other_writer):
    _first(app, _create(other_writer, city("eindhoven", name="Theirs")))
    r = client.post("/profiles", json=city("eindhoven", name="Mine"), headers=keys.auth("admin"))
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [{"pointer": "/id", "detail": "already taken"}]
    assert client.get("/profiles/eindhoven", headers=keys.auth("admin")).json()["name"] == "Theirs"


def test_of_concurrent_creates_of_one_id_one_is_created_and_the_others_get_409(client, keys):
    statuses: list[int] = []

    def create(n: int) -> None:
        body = city("eindhoven", name=f"Writer {n}")
        statuses.append(client.post("/profiles", json=body, headers=keys.auth("admin")).status_code)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(statuses) == [201] + [409] * 5


def test_a_bundle_that_loses_a_race_for_a_new_id_stores_nothing_and_gets_409(app, client, keys, other_writer):
    bundle = {"format": "twinning.bundle/1", "profiles": [city("eindhoven"), city("tampere", country="FI")]}
    _first(app, _create(other_writer, city("eindhoven", name="Theirs")))
    r = client.post("/bundles", json=bundle, headers=keys.auth("admin"))
    assert r.status_code == 409, r.text
    assert (
        r.headers["content-type"].startswith("application/problem+json") and "nothing was stored" in r.json()["detail"]
    )
    assert client.get("/profiles/tampere", headers=keys.auth("admin")).status_code == 404
    assert client.post("/bundles", json=bundle, headers=keys.auth("admin")).status_code == 200  # sent again, it lands
