"""Suggestion latency over a real HTTP socket: uvicorn serving the app, httpx asking in sequence
from a process of its own.

The app gets a live engine whose index was built in the benchmark (no database rebuild of 100k
profiles); the database holds only the profiles that are asked about, which the route reads.
`live_recommender` wraps that index as the service would, theme tagger included, so the figure
covers the explanations the service really computes.
"""

import multiprocessing
import socket
import statistics
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import insert

from embeddings import CachedEncoder, MemoryVectorCache, load_encoder
from matching.features import Place
from matching.index import PhraseIndex
from matching.lexical import LexicalModel
from matching.recommend import Recommender
from matching.types import Kind
from service.app import create_app
from service.auth import Role, create_key
from service.db.engine import make_engine, make_sessionmaker, migrate, session_scope
from service.db.models import Profile, utcnow
from service.live.index import LiveIndex
from service.live.places import official_languages
from service.live.profiles_text import ProfileText
from service.live.recommenders import load_ranker, load_tagger
from service.settings import REPO_DATA, Settings

__all__ = ["live_recommender", "measure_http"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def live_recommender(index: PhraseIndex, lexical: LexicalModel) -> Recommender:
    """The recommender the service would build over this index: the real model tags the themes,
    the shipped learned ranker scores, each profile's place comes from its metadata."""
    encoder = CachedEncoder(load_encoder(), MemoryVectorCache())
    places = {}
    for key in index.keys():
        meta = index.meta_of(key)
        places[key] = Place(meta.country, official_languages(meta.country), meta.city)
    return Recommender(
        index,
        lexical,
        load_tagger(REPO_DATA / "themes.json", encoder),
        ranker=load_ranker(REPO_DATA / "ranker.json"),
        places=places,
    )


def _client_times(base_url: str, secret: str, query_keys: list[str], target: str, k: int) -> list[float]:
    """Milliseconds of each `GET /profiles/{id}/suggestions?source=live`, asked in sequence."""
    times = []
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {secret}"}, timeout=30) as client:
        for key in query_keys:
            t = time.perf_counter()
            r = client.get(f"/profiles/{key}/suggestions", params={"target": target, "k": k, "source": "live"})
            elapsed = time.perf_counter() - t
            r.raise_for_status()
            times.append(elapsed * 1000)
    return times


def measure_http(
    recommender: Recommender, query_keys: list[str], *, target: str = "city", k: int = 10, warmup: int = 20
) -> dict[str, float]:
    """p50 and p99 milliseconds of `GET /profiles/{id}/suggestions?source=live` over a socket."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'http.db'}"
        settings = Settings(database_url=url, data_dir=REPO_DATA)
        engine = make_engine(url)
        migrate(engine)
        index = recommender.index
        texts = {}
        for key in index.keys():
            meta = index.meta_of(key)
            texts[key] = ProfileText(key, Kind(meta.kind), key, meta.bloc, meta.country, meta.org_type, "", (), ())
        now = utcnow()
        rows = [
            {
                "id": key,
                "kind": texts[key].kind.value,
                "name": key,
                "country": "DE",
                "bloc": texts[key].bloc,
                "org_type": texts[key].org_type,
                "city": None,
                "description": "benchmark profile",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for key in query_keys
        ]
        with engine.begin() as conn:
            conn.execute(insert(Profile), rows)
        sessions = make_sessionmaker(engine)
        with session_scope(sessions) as session:
            secret, _ = create_key(session, role=Role.MANAGER)
        live = LiveIndex(settings=settings, sessions=sessions)
        live.recommender, live.texts = recommender, texts
        app = create_app(settings, live=live)
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            # the client is a process of its own, as a real one is: in this process its thread
            # would contend for the GIL with the server's, which no deployed client does
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as client:
                times = client.submit(
                    _client_times, f"http://127.0.0.1:{port}", secret, query_keys, target, k
                ).result()[warmup:]
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            engine.dispose()
    times.sort()
    return {
        "p50": statistics.median(times),
        "p99": times[min(len(times) - 1, int(0.99 * len(times)))],
        "requests": len(times),
    }
