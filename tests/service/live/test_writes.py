"""Profile writes encode outside the lock suggestion requests need, and land in the order they committed."""

import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from httpx import Response

from embeddings import Encoder
from matching.lexical import LexicalModel
from matching.recommend import Recommender
from matching.scoring import Kind
from service.app import create_app
from service.auth import Principal, Role
from service.db import store
from service.db.engine import make_engine, make_sessionmaker, migrate
from service.domain import profiles
from service.domain.bundles import import_bundle
from service.errors import ProfileNotFound
from service.live import index as index_module
from service.live.index import LiveIndex, SuggestionRequest
from service.schemas import Bundle, ProfileCreate, ProfileFields
from tests.factories import city
from tests.service.live.locks import lock_is_free

DATA = Path(__file__).resolve().parents[3] / "data"
DEMO = json.loads((DATA / "world-cities-eu-korea.json").read_text(encoding="utf-8"))
SLOW = "slow-to-encode"  # a batch of texts holding this waits for the gate
ADMIN = Principal(key_id=0, role=Role.ADMIN, profile_id=None, name="test")


class GatedEncoder(Encoder):
    """The real model, except that encoding a batch that holds `SLOW` waits until `gate` is set:
    a slow encoding, made deterministic."""

    def __init__(self, real: Encoder) -> None:
        super().__init__(real.path, real.model_id, real.name, real.batch_size)
        self.real = real
        self.entered = threading.Event()  # set once a slow batch has begun
        self.gate = threading.Event()

    def load(self) -> object:
        return self.real.load()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if any(SLOW in t for t in texts):
            self.entered.set()
            assert self.gate.wait(timeout=120), "the test never opened the gate"
        return super().encode(texts)


@pytest.fixture
def gated(encoder) -> Iterator[GatedEncoder]:
    gated = GatedEncoder(encoder)
    yield gated
    gated.gate.set()  # a failed test must not leave a thread waiting


@pytest.fixture
def app(settings, gated):
    """The app, its live index encoding with the gated model."""
    engine = make_engine(settings.database_url)
    yield create_app(settings, live=LiveIndex(settings=settings, sessions=make_sessionmaker(engine), encoder=gated))
    engine.dispose()


@pytest.fixture
def live(settings, gated) -> Iterator[LiveIndex]:
    """A started live index over an empty database, encoding with the gated model."""
    engine = make_engine(settings.database_url)
    migrate(engine)
    index = LiveIndex(settings=settings, sessions=make_sessionmaker(engine), encoder=gated)
    index.start()
    yield index
    engine.dispose()


def _large(**overrides) -> dict:
    """A profile of 200 distinct lines, one of them slow to encode."""
    body = city(
        "eindhoven",
        interests=[f"{SLOW} theme {i}" if i == 0 else f"circular economy pilot number {i}" for i in range(50)],
        offers=[f"district heating lesson {i}" for i in range(50)],
        description=" ".join(f"We ran public lighting trial {i} with residents." for i in range(100)),
    )
    body.pop("id")
    body.update(overrides)
    return body


def _in_thread(work) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(work()), daemon=True)
    thread.start()
    return thread, out


def _answered_while_encoding(client, gated: GatedEncoder, write: Callable[[], Response], headers: dict) -> Response:
    """Send `write` (slow to encode) and, while it encodes, ask for a suggestion: the write's answer,
    once the suggestion has been answered (within seconds, the write still encoding)."""
    writer, written = _in_thread(write)
    assert gated.entered.wait(timeout=60)  # the write has committed and is encoding its new text
    started = time.perf_counter()
    asker, asked = _in_thread(
        lambda: client.get("/profiles/seoul/suggestions?target=city&source=live", headers=headers)
    )
    asker.join(timeout=30)
    answered_in = time.perf_counter() - started
    still_encoding = writer.is_alive()
    gated.gate.set()
    writer.join(timeout=120)
    assert not asker.is_alive(), "the suggestion waited for the write's encoding"
    assert asked[0].status_code == 200 and asked[0].json()["items"]
    assert still_encoding and answered_in < 10
    return written[0]


def test_a_suggestion_is_answered_while_a_large_write_encodes(app, client, keys, gated):
    h = keys.auth("admin")
    assert client.post("/bundles", json=DEMO, headers=h).status_code == 200
    version = client.get("/profiles/eindhoven", headers=h).json()["version"]
    body = _large()
    r = _answered_while_encoding(
        client, gated, lambda: client.put("/profiles/eindhoven", json=body, headers=h | {"If-Match": f'"{version}"'}), h
    )
    assert r.status_code == 200, r.text
    # the write's answer comes once its new text is in the index
    assert app.state.live.profile_text("eindhoven").interests == tuple(body["interests"])
    r = client.get("/profiles/eindhoven/suggestions?target=city&source=live", headers=h)
    assert r.status_code == 200 and r.json()["items"]


@pytest.mark.parametrize("sheet", [False, True], ids=["json", "csv"])
def test_a_suggestion_is_answered_while_a_bundle_import_encodes(app, client, keys, gated, sheet):
    h = keys.auth("admin")
    assert client.post("/bundles", json=DEMO, headers=h).status_code == 200
    row = city("lyon", country="FR", interests=[f"{SLOW} river banks", "night markets"])
    if sheet:
        lines = ["id,kind,name,country,bloc,description,interests,offers"]
        lines.append(f"lyon,city,Lyon,FR,EU,{row['description']},{';'.join(row['interests'])},{row['offers'][0]}")
        send = {"content": "\n".join(lines).encode(), "headers": h | {"Content-Type": "text/csv"}}
    else:
        send = {"json": {"format": "twinning.bundle/1", "profiles": [row]}, "headers": h}
    r = _answered_while_encoding(client, gated, lambda: client.post("/bundles", **send), h)
    assert r.status_code == 200, r.text
    assert r.json()["profiles_created"] == 1 and app.state.live.profile_text("lyon").name == "Lyon"


def test_a_suggestion_is_answered_while_an_edit_from_the_workspace_encodes(app, client, keys, gated):
    h = keys.auth("admin")
    assert client.post("/bundles", json=DEMO, headers=h).status_code == 200
    form = client.get("/app/login")
    login = {"key": keys.admin, "login_token": _hidden(form.text, "login_token")}
    csrf = _hidden(client.post("/app/login", data=login).text, "csrf")
    edit = client.get("/app/profiles/eindhoven/edit").text
    data = {name: _hidden(edit, name) for name in ("version",)} | {
        "csrf": csrf,
        "kind": "city",
        "name": "Eindhoven",
        "country": "NL",
        "bloc": "EU",
        "description": "A city of light and design.",
        "interests": f"{SLOW} tram lines\nliving labs",
        "offers": "",
    }
    r = _answered_while_encoding(client, gated, lambda: client.post("/app/profiles/eindhoven/edit", data=data), h)
    assert r.status_code == 200 and "Saved Eindhoven" in r.text
    assert app.state.live.profile_text("eindhoven").interests == (f"{SLOW} tram lines", "living labs")


def _hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def _fields(**overrides) -> ProfileFields:
    body = city("eindhoven", **overrides)
    body.pop("id")
    return ProfileFields.model_validate(body)


def _replace(live: LiveIndex, version: int, data: ProfileFields) -> int:
    with live.sessions() as session:
        return profiles.replace_profile(
            session=session, live=live, principal=ADMIN, profile_id="eindhoven", data=data, version=version
        ).version


def _delete(live: LiveIndex, version: int) -> None:
    with live.sessions() as session:
        profiles.delete_profile(session=session, live=live, principal=ADMIN, profile_id="eindhoven", version=version)


def _create(live: LiveIndex, data: ProfileFields) -> None:
    with live.sessions() as session:
        profiles.create_profile(
            session=session, live=live, principal=ADMIN, data=ProfileCreate(id="eindhoven", **data.model_dump())
        )


def test_of_two_writes_of_a_profile_the_index_keeps_the_later_even_when_the_earlier_encodes_longer(live, gated):
    _create(live, _fields())
    seoul = ProfileCreate.model_validate(city("seoul", country="KR", bloc="AS", interests=["smart street lighting"]))
    with live.sessions() as session:
        profiles.create_profile(session=session, live=live, principal=ADMIN, data=seoul)
    slow = _fields(interests=[f"{SLOW} mobility"])
    first, done = _in_thread(lambda: _replace(live, 1, slow))
    assert gated.entered.wait(timeout=60)  # version 2 is committed, and still encoding
    later = _fields(interests=["harbour logistics"])
    assert _replace(live, 2, later) == 3
    assert live.profile_text("eindhoven").interests == ("harbour logistics",)
    gated.gate.set()
    first.join(timeout=120)
    assert done == [2]
    assert live.profile_text("eindhoven").interests == ("harbour logistics",)  # version 2 arrived late: not swapped in
    assert live.recommender_ready().index.vectors_of("eindhoven").texts[0] == "harbour logistics"
    with live.sessions() as session:
        suggested = live.suggest_for(session, "seoul", SuggestionRequest(target=Kind.CITY))
    assert [s.key for s in suggested] == ["eindhoven"]


def test_a_deleted_profile_is_not_put_back_by_a_slower_write_before_it_and_may_be_created_again(live, gated):
    _create(live, _fields())
    first, _ = _in_thread(lambda: _replace(live, 1, _fields(interests=[f"{SLOW} mobility"])))
    assert gated.entered.wait(timeout=60)
    _delete(live, 2)
    assert live.profile_text("eindhoven") is None
    gated.gate.set()
    first.join(timeout=120)
    assert live.profile_text("eindhoven") is None and "eindhoven" not in live.recommender_ready().index
    with live.sessions() as session, pytest.raises(ProfileNotFound):
        live.suggest_for(session, "eindhoven", SuggestionRequest(target=Kind.CITY))
    _create(live, _fields(interests=["harbour logistics"]))
    assert live.profile_text("eindhoven").interests == ("harbour logistics",)


def test_the_tfidf_space_is_refitted_outside_the_lock_and_keeps_the_writes_made_meanwhile(live, monkeypatch):
    watched: dict[str, bool] = {}

    class WatchedFit(LexicalModel):
        def fit(self, texts):
            watched["lock free"] = lock_is_free(live)
            # a write while the space is fitted: it is swapped in at once, and kept by the new space
            _replace(live, 1, _fields(description="A harbour city with ferries and shipyards."))
            return super().fit(texts)

    monkeypatch.setattr(index_module, "LexicalModel", WatchedFit)
    _create(live, _fields())
    # the space was fitted on no text: 16 more profiles outgrow it
    bundle = Bundle(
        format="twinning.bundle/1",
        profiles=[ProfileCreate.model_validate(city(f"city-{i}", interests=[f"theme {i}"])) for i in range(16)],
    )
    with live.sessions() as session:
        import_bundle(session=session, live=live, bundle=bundle, accepted_by=None)
    lexical = live.recommender_ready().lexical
    assert watched == {"lock free": True} and isinstance(lexical, WatchedFit) and lexical.n_fitted_ == 17
    written = live.profile_text("eindhoven").whole_text
    assert "harbour" in written
    assert (lexical.row("eindhoven") != lexical.transform(written)).nnz == 0


def test_a_suggestion_is_answered_before_a_write_being_prepared_lands_with_edits_queued_behind_it(
    live, gated, monkeypatch
):
    for i in range(6):
        with live.sessions() as session:
            profiles.create_profile(
                session=session, live=live, principal=ADMIN, data=ProfileCreate.model_validate(city(f"city-{i}"))
            )
    _create(live, _fields())
    seoul = ProfileCreate.model_validate(city("seoul", country="KR", bloc="AS", interests=["smart street lighting"]))
    with live.sessions() as session:
        profiles.create_profile(session=session, live=live, principal=ADMIN, data=seoul)
    preparing, prepared = threading.Event(), threading.Event()
    prepare = Recommender.prepare_write

    def held(self, entries, removed=()):
        if any(key == "eindhoven" for key, *_ in entries):  # this write's costly part waits for the test
            preparing.set()
            assert prepared.wait(timeout=120), "the test never let the write go on"
        return prepare(self, entries, removed)

    monkeypatch.setattr(Recommender, "prepare_write", held)

    def edit(key: str, body: dict) -> None:
        with live.sessions() as session:
            version = store.get_profile(session, key).version
            profiles.replace_profile(
                session=session,
                live=live,
                principal=ADMIN,
                profile_id=key,
                data=ProfileFields.model_validate(body),
                version=version,
            )

    writer, _ = _in_thread(lambda: _replace(live, 1, _fields(interests=["harbour logistics"])))
    assert preparing.wait(timeout=60)  # the write has its turn and is preparing its entries
    edits = [
        _in_thread(lambda i=i: edit(f"city-{i}", _fields(interests=[f"tidal energy {i}"]).model_dump()))[0]
        for i in range(5)
    ]
    large, _ = _in_thread(lambda: edit("city-5", _large()))
    assert gated.entered.wait(timeout=60)  # and a large write is encoding

    def ask() -> list[str]:
        with live.sessions() as session:
            return [s.key for s in live.suggest_for(session, "seoul", SuggestionRequest(target=Kind.CITY, k=20))]

    asker, asked = _in_thread(ask)
    asker.join(timeout=60)
    # answered from the state before the write, which has not landed yet, nor the edits queued behind it
    assert not asker.is_alive() and writer.is_alive() and all(t.is_alive() for t in edits)
    assert "eindhoven" in asked[0] and live.profile_text("eindhoven").interests != ("harbour logistics",)
    prepared.set()
    gated.gate.set()
    for thread in (writer, large, *edits):
        thread.join(timeout=120)
    assert live.profile_text("eindhoven").interests == ("harbour logistics",)
    assert [live.profile_text(f"city-{i}").interests for i in range(5)] == [(f"tidal energy {i}",) for i in range(5)]
    assert live.profile_text("city-5").interests == tuple(_large()["interests"])
