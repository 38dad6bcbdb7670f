"""How long does the server take to render the workspace's main pages at 10k profiles?

    .venv/bin/python benchmarks/pages.py              # 10,000 profiles, 50 requests per page
    .venv/bin/python benchmarks/pages.py --n 2000 --requests 20

Builds N synthetic profiles in a SQLite database (benchmarks/rerank.py's generator, drawing from a
small vocabulary of a few hundred real urban-cooperation phrases, so that encoding them once with
the real model and caching the vectors takes seconds), a 20 × 20 cohort and one finished re-ranking
run (`--with-diff`: two, 1 % of the profiles changed in between); then signs in through the login form and
times each page through the ASGI app (TestClient).
Server time is measured around the app itself, from the request entering it to the last body byte
leaving it. Target: p99 ≤ 300 ms per page at 10k profiles.
"""

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import select

from benchmarks.rerank import change_share, populate
from benchmarks.synthetic import THEMES, Vocabulary, build_phrases
from embeddings import load_encoder
from matching.types import PhraseRole
from service.app import create_app
from service.auth import Role, create_key
from service.batch.jobs import RerankParams, rerank
from service.db.engine import session_scope
from service.db.models import Profile, Run
from service.db.store import upsert_cohort
from service.schemas import CohortIn
from service.settings import REPO_DATA, Settings

TARGET_MS = 300.0
COHORT = "bench-20x20"
PER_THEME_ROLE = 5  # 20 themes × 3 roles × 5 = 300 phrases
SEARCH_WORDS = ("energy", "housing", "mobility", "heritage", "water", "youth", "digital", "tourism")


def small_vocabulary(per_theme_role: int = PER_THEME_ROLE, seed: int = 0) -> Vocabulary:
    """A few hundred phrases of the benchmark vocabulary, encoded now with the real model."""
    texts, themes, roles = build_phrases(seed)
    rng = np.random.default_rng(seed)
    keep = np.sort(
        np.concatenate(
            [
                rng.choice(pool, size=min(per_theme_role, len(pool)), replace=False)
                for t in range(len(THEMES))
                for r in PhraseRole
                if len(pool := np.flatnonzero((themes == t) & (roles == r)))
            ]
        )
    )
    chosen = [texts[i] for i in keep]
    return Vocabulary(texts=tuple(chosen), vectors=load_encoder().encode(chosen), theme=themes[keep], role=roles[keep])


class ServerTimer:
    """ASGI wrapper recording, per HTTP request, the seconds from entering the app to the end of the body."""

    def __init__(self, app) -> None:
        self.app = app
        self.last = 0.0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last = time.perf_counter() - started

        await self.app(scope, receive, timed_send)


def build(url: str, n: int, with_diff: bool) -> Settings:
    t = time.perf_counter()
    populate(url, small_vocabulary(), n)
    settings = Settings(database_url=url, data_dir=REPO_DATA)
    app = create_app(settings)
    with session_scope(app.state.sessions) as session:
        rows = session.execute(
            select(Profile.id, Profile.bloc).where(Profile.kind == "city").order_by(Profile.id)
        ).all()
        eu = [pid for pid, bloc in rows if bloc == "EU"][:20]
        asia = [pid for pid, bloc in rows if bloc == "AS"][:20]
        upsert_cohort(session, CohortIn(id=COHORT, name="Benchmark cohort 20 × 20", sides={"EU": eu, "AS": asia}))
    print(f"built {n} profiles and a 20 × 20 cohort in {time.perf_counter() - t:.1f} s", flush=True)
    t = time.perf_counter()
    rerank(settings, app.state.sessions, RerankParams())
    print(f"one re-ranking run in {time.perf_counter() - t:.1f} s", flush=True)
    if with_diff:
        t = time.perf_counter()
        change_share(url, 0.01, seed=n)
        rerank(settings, app.state.sessions, RerankParams())
        print(f"a second run after 1 % of the profiles changed, in {time.perf_counter() - t:.1f} s", flush=True)
    app.state.engine.dispose()
    return settings


def sign_in(client: TestClient, secret: str) -> None:
    form = client.get("/app/login").text
    token = form.split('name="login_token" value="')[1].split('"')[0]
    assert client.post("/app/login", data={"key": secret, "login_token": token}).status_code == 200


def measure(
    client: TestClient, timer: ServerTimer, urls: Callable[[int], str], requests: int
) -> tuple[float, list[float]]:
    """The first request's time (cold), then `requests` timed ones after two more warm-up requests."""
    first = 0.0
    for i in range(3):
        client.get(urls(i), follow_redirects=False)
        first = first or timer.last * 1000
    times = []
    for i in range(requests):
        r = client.get(urls(i), follow_redirects=False)
        assert r.status_code == 200, (urls(i), r.status_code, r.text[:500])
        times.append(timer.last * 1000)
    return first, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="profiles")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page")
    parser.add_argument(
        "--with-diff", action="store_true", help="also time a run's diff page (a second run: minutes at 10k)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'pages.db'}"
        settings = build(url, args.n, args.with_diff)
        app = create_app(settings)
        with session_scope(app.state.sessions) as session:
            secret = create_key(session, role=Role.MANAGER, name="benchmark")[0]
            ids = list(session.scalars(select(Profile.id).where(Profile.kind == "city").order_by(Profile.id)))
            run_ids = list(session.scalars(select(Run.id).order_by(Run.id)))
        rng = np.random.default_rng(1)
        sample = [ids[i] for i in rng.choice(len(ids), size=args.requests + 3, replace=False)]
        timer = ServerTimer(app)
        t = time.perf_counter()
        with TestClient(timer) as client:
            print(f"index built at start-up in {time.perf_counter() - t:.1f} s", flush=True)
            sign_in(client, secret)
            pages = [
                ("profiles list, text search", lambda i: f"/app/profiles?q={SEARCH_WORDS[i % len(SEARCH_WORDS)]}"),
                (
                    "profiles list, filtered",
                    lambda i: (
                        "/app/profiles?kind=organisation&bloc=EU&org_type=university"
                        f"&q={SEARCH_WORDS[i % len(SEARCH_WORDS)]}"
                    ),
                ),
                ("profile page", lambda i: f"/app/profiles/{sample[i]}"),
                ("suggestions, cities (current run)", lambda i: f"/app/profiles/{sample[i]}/suggestions?target=city"),
                (
                    "suggestions, collaborators (live)",
                    lambda i: f"/app/profiles/{sample[i]}/suggestions?target=organisation&diversity=0.3",
                ),
                ("cohort board 20 × 20", lambda i: f"/app/cohorts/{COHORT}"),
                ("runs page", lambda i: "/app/runs"),
                ("run page, first run (no diff)", lambda i: f"/app/runs/{run_ids[0]}"),
            ]
            if args.with_diff:
                pages.append(("run page, diff against the previous run", lambda i: f"/app/runs/{run_ids[-1]}"))
                pages.append(
                    ("run page, diff of one profile", lambda i: f"/app/runs/{run_ids[-1]}?profile={sample[i]}")
                )
            rows = []
            for name, urls in pages:
                first, times = measure(client, timer, urls, args.requests)
                rows.append(
                    (
                        name,
                        first,
                        len(times),
                        float(np.percentile(times, 50)),
                        float(np.percentile(times, 99)),
                        max(times),
                    )
                )
                print(f"  measured {name}", flush=True)
    header = (
        f"{'page (N = ' + format(args.n, ',') + ' profiles)':<42}"
        f"{'first ms':>9}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  p99 ≤ {TARGET_MS:.0f} ms"
    )
    print()
    print(header)
    print("-" * len(header))
    for name, first, count, p50, p99, worst in rows:
        print(
            f"{name:<42}{first:>9.1f}{count:>9}{p50:>9.1f}{p99:>9.1f}{worst:>9.1f}"
            f"  {'ok' if p99 <= TARGET_MS else 'OVER'}"
        )
    print("(first: the first request to that page after start-up; the others follow two warm-up requests)")


if __name__ == "__main__":
    main()
