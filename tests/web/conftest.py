"""Fixtures the workspace's page tests share."""

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

DEMO = json.loads((Path(__file__).resolve().parents[2] / "data" / "world-cities-eu-korea.json").read_text("utf-8"))


@pytest.fixture
def demo(app, client, keys) -> TestClient:
    """The app's client with the World Cities EU-Korea demo imported."""
    assert client.post("/bundles", json=DEMO, headers=keys.auth("admin")).status_code == 200
    return client
