"""Fixtures the workspace's tests share: for page tests the demo imported through the API; for browser tests
a live server with the demo data, Debian's Chromium, a page and a screenshot folder."""

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, sync_playwright

from service.app import create_app
from service.auth import Role, create_key
from service.batch.jobs import rerank
from service.db.engine import session_scope
from service.domain.bundles import import_bundle, parse_bundle
from service.settings import Settings
from tests.web.browsing import CHROMIUM, CHROMIUM_ARGS, DATA, WIDE, Live

DEMO = json.loads((Path(__file__).resolve().parents[2] / "data" / "world-cities-eu-korea.json").read_text("utf-8"))


@pytest.fixture
def demo(app, client, keys) -> TestClient:
    """The app's client with the World Cities EU-Korea demo imported."""
    assert client.post("/bundles", json=DEMO, headers=keys.auth("admin")).status_code == 200
    return client


def _demo_without_philips_partnership() -> dict:
    """The demo bundle less Eindhoven's 2017-18 partnership with Philips, so Philips is a fresh suggestion to accept."""
    demo = json.loads((DATA / "world-cities-eu-korea.json").read_text(encoding="utf-8"))
    demo["partnerships"] = [p for p in demo["partnerships"] if {p["a"], p["b"]} != {"eindhoven", "philips-lighting"}]
    return demo


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    """Uvicorn on a free 127.0.0.1 port in a thread, with the demo imported, two keys and one finished run."""
    settings = Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('browser') / 'twinning.db'}", data_dir=DATA)
    app = create_app(settings)
    with session_scope(app.state.sessions) as session:
        import_bundle(
            session=session, live=None, bundle=parse_bundle(_demo_without_philips_partnership()), accepted_by="demo"
        )
        manager = create_key(session, role=Role.MANAGER, name="Ana (programme manager)")[0]
        member = create_key(session, role=Role.MEMBER, profile_id="eindhoven", name="Eindhoven")[0]
    rerank(settings, app.state.sessions)  # a run to compare the one started in the browser with

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield Live(url=f"http://127.0.0.1:{port}", manager=manager, member=member, sessions=app.state.sessions)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium; run `make test`, which installs it"
        )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    """Where screenshots go: TWINNING_SCREENSHOTS when set, so a test run never rewrites the tracked ones."""
    named = os.environ.get("TWINNING_SCREENSHOTS")
    return Path(named) if named else tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=WIDE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()
