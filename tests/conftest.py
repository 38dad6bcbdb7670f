"""Shared fixtures: the real model (loaded once), databases on SQLite and PostgreSQL, app clients."""

import os
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service.app import create_app
from service.auth import Role, create_key
from service.db.engine import make_engine, migrate, session_scope
from service.settings import Settings

DATA = Path(__file__).resolve().parent.parent / "data"
POSTGRES_URL = os.environ.get("TWINNING_TEST_POSTGRES_URL")

os.environ.setdefault("HF_HUB_OFFLINE", "1")


ENCODED: dict[tuple[str, str], np.ndarray] = {}  # (model id, text) → the model's vector, for the session


@pytest.fixture(autouse=True)
def _texts_encoded_once(request, monkeypatch) -> None:
    """The model's vector of each text, remembered for the test session.

    Nearly every test imports the demo into a database of its own, whose vector cache starts empty,
    and encoding it again took most of each test's setup. The vectors are the model's own (one per
    model id and text), and every layer above the model (the database's vector cache, the child
    process, the live index) works as in the service: only the forward pass is skipped. The tests
    of the encoder itself (tests/embeddings) always run the model.
    """
    from embeddings.encoder import Encoder

    if request.node.path.is_relative_to(Path(__file__).parent / "embeddings"):
        return
    encode = Encoder.encode

    def remembered(self: Encoder, texts):
        if not texts:
            return encode(self, texts)
        new = [t for t in dict.fromkeys(texts) if (self.model_id, t) not in ENCODED]
        if new:
            ENCODED.update(((self.model_id, t), v) for t, v in zip(new, encode(self, new)))
        return np.stack([ENCODED[(self.model_id, t)] for t in texts])

    monkeypatch.setattr(Encoder, "encode", remembered)


@pytest.fixture(scope="session")
def encoder():
    """The real all-MiniLM-L6-v2, loaded once per test session."""
    from embeddings import load_encoder

    return load_encoder()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A database of its own for this test session, dropped at the end."""
    if not POSTGRES_URL:
        pytest.skip("TWINNING_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"twinning_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """The same tests run on SQLite and on PostgreSQL; each test starts from empty tables."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'twinning.db'}"
    url = request.getfixturevalue("postgres_server_url")
    engine = make_engine(url)
    migrate(engine)
    from service.db.models import Base

    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(database_url=database_url, data_dir=DATA)


@dataclass
class Keys:
    admin: str
    manager: str
    member: str  # bound to profile "eindhoven"
    other_member: str  # bound to profile "seoul"

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, role)}"}


@pytest.fixture
def app(settings):
    yield create_app(settings)
    _stop_spawned_runs()


def _stop_spawned_runs() -> None:
    """Kill the run processes a test's server spawned and left running: the next test's tables reuse
    their run ids, and a leftover run must not work on (or fail) the next test's runs."""
    for child in psutil.Process().children():
        try:
            if "service.batch" not in child.cmdline():
                continue
            os.killpg(child.pid, signal.SIGKILL)  # the run and its scoring workers: it sits in a session of its own
            child.wait(30)
        except (psutil.NoSuchProcess, ProcessLookupError):
            continue


@pytest.fixture
def keys(app) -> Keys:
    with session_scope(app.state.sessions) as session:
        made = {
            "admin": create_key(session, role=Role.ADMIN)[0],
            "manager": create_key(session, role=Role.MANAGER)[0],
            "member": create_key(session, role=Role.MEMBER, profile_id="eindhoven")[0],
            "other_member": create_key(session, role=Role.MEMBER, profile_id="seoul")[0],
        }
    return Keys(**made)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c
