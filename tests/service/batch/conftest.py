"""Fixtures of the batch tests: the demo bundle loaded through the API, its vectors encoded once per session."""

import json
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from service.db.models import CachedVector

DATA = Path(__file__).resolve().parents[3] / "data"
DEMO = json.loads((DATA / "world-cities-eu-korea.json").read_text(encoding="utf-8"))

_demo_vectors: list[dict] = []  # the vector cache's rows once the demo is loaded, kept from the first test


@pytest.fixture
def demo_vectors_cached(app):
    """The demo's and the themes' vectors in the fresh database before the app starts: only one test encodes them."""
    if _demo_vectors:
        with app.state.sessions() as s:
            s.execute(insert(CachedVector), _demo_vectors)
            s.commit()


@pytest.fixture
def demo(demo_vectors_cached, app, client, keys):
    assert client.post("/bundles", json=DEMO, headers=keys.auth("admin")).status_code == 200
    if not _demo_vectors:
        with app.state.sessions() as s:
            rows = s.execute(select(CachedVector.model_id, CachedVector.text_hash, CachedVector.vector))
            _demo_vectors.extend({"model_id": m, "text_hash": h, "vector": v} for m, h, v in rows)
    return client
