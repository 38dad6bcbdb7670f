"""How long a whole batch re-ranking takes, stage by stage, against the matmul floor.

    python benchmarks/rerank.py                 # N = 10,000 and 100,000
    python benchmarks/rerank.py --n 10000

Builds N synthetic profiles (phrases drawn from the benchmark vocabulary of real urban-cooperation
phrases, benchmarks/synthetic.py) in a SQLite database with their vectors already cached, runs
`service.jobs.rerank` as `twinning rerank` would, then changes 1 % of the profiles and runs again.
Prints wall time per stage, peak memory, and the scoring time over the floor: a bare numpy matmul
of the same shapes the scoring multiplied (the index counts them).
Targets at N = 100k with vectors cached: whole run ≤ 10 min, scoring ≤ 2× the floor, peak memory
≤ 4 GB; a run after 1 % of profiles changed re-encodes only those.
"""

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import psutil  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from benchmarks.synthetic import THEMES, load_vocabulary  # noqa: E402
from embeddings import load_encoder, split_description, text_key  # noqa: E402
from matching.vectors import PhraseRole  # noqa: E402
from service.db import make_engine, make_sessionmaker, migrate  # noqa: E402
from service.jobs import RerankParams, rerank  # noqa: E402
from service.models import CachedVector, Phrase, Profile, utcnow  # noqa: E402
from service.settings import REPO_DATA, Settings  # noqa: E402

BLOCS = {"EU": ["DE", "FR", "ES", "IT", "NL", "PL", "SE", "FI"], "LA": ["BR", "MX", "CO", "AR", "CL"], "AS": ["JP", "KR", "CN", "IN"], "NA": ["US", "CA"]}
ORG_TYPES = ["company", "university", "research_centre", "public_agency", "ngo", "network"]


def synthetic_rows(vocab, n: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Profile and phrase rows: each profile about one main theme and up to two more."""
    rng = np.random.default_rng(seed)
    pools = {(t, r): np.flatnonzero((vocab.theme == t) & (vocab.role == r)) for t in range(len(THEMES)) for r in PhraseRole}
    blocs = list(BLOCS)
    profiles, phrases = [], []
    now = utcnow()
    for i in range(n):
        is_city = rng.random() < 0.6
        themes = rng.choice(len(THEMES), size=1 + rng.choice(3, p=[0.3, 0.5, 0.2]), replace=False)
        pick = lambda role, count: [vocab.texts[pools[(int(t), role)][rng.integers(len(pools[(int(t), role)]))]] for t in rng.choice(themes, size=count)]  # noqa: E731
        interests = list(dict.fromkeys(pick(PhraseRole.INTEREST, int(rng.integers(3, 6)) if is_city else int(rng.integers(0, 3)))))
        offers = list(dict.fromkeys(pick(PhraseRole.OFFER, int(rng.integers(2, 5)) if is_city else int(rng.integers(3, 6)))))
        description = " ".join(pick(PhraseRole.DESCRIPTION, int(rng.integers(2, 5))))
        bloc = blocs[int(rng.integers(len(blocs)))]
        pid = f"p{i:06d}"
        profiles.append({
            "id": pid, "kind": "city" if is_city else "organisation", "name": f"Profile {i}", "bloc": bloc,
            "country": BLOCS[bloc][int(rng.integers(len(BLOCS[bloc])))], "org_type": None if is_city else ORG_TYPES[int(rng.integers(len(ORG_TYPES)))],
            "city": None, "description": description, "version": 1, "created_at": now, "updated_at": now,
        })
        phrases += [{"profile_id": pid, "role": "interest", "position": j, "text": t} for j, t in enumerate(interests)]
        phrases += [{"profile_id": pid, "role": "offer", "position": j, "text": t} for j, t in enumerate(offers)]
    return profiles, phrases


def populate(url: str, vocab, n: int) -> None:
    engine = make_engine(url)
    migrate(engine)
    profiles, phrases = synthetic_rows(vocab, n, seed=n)
    known = {text_key(t): v for t, v in zip(vocab.texts, vocab.vectors)}
    pieces = {text_key(s): s for p in profiles for s in split_description(p["description"])}
    missing = {k: s for k, s in pieces.items() if k not in known}
    if missing:  # description pieces that split differently from the vocabulary: cache them too
        known.update(zip(missing, load_encoder().encode(list(missing.values()))))
    model_id = load_encoder().model_id
    with engine.begin() as conn:
        for start in range(0, len(profiles), 20_000):
            conn.execute(insert(Profile), profiles[start : start + 20_000])
        for start in range(0, len(phrases), 100_000):
            conn.execute(insert(Phrase), phrases[start : start + 100_000])
        rows = [{"model_id": model_id, "text_hash": k, "vector": np.asarray(v, np.float32).tobytes()} for k, v in known.items()]
        conn.execute(insert(CachedVector), rows)
    engine.dispose()


def change_share(url: str, share: float, seed: int) -> int:
    """Give `share` of the profiles a new interest never seen before; returns how many changed."""
    engine = make_engine(url)
    rng = np.random.default_rng(seed)
    with engine.begin() as conn:
        ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM profiles")]
        chosen = rng.choice(len(ids), size=max(1, int(len(ids) * share)), replace=False)
        rows = [{"profile_id": ids[i], "role": "interest", "position": 99, "text": f"a fresh interest number {i} in tidal energy"} for i in chosen]
        conn.execute(insert(Phrase), rows)
        conn.exec_driver_sql("UPDATE profiles SET version = version + 1")
    engine.dispose()
    return len(rows)


class PeakMemory:
    """Samples this process's resident memory every 50 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, me.memory_info().rss)
            time.sleep(0.05)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def measure(n: int, vocab, workdir: Path) -> dict:
    url = f"sqlite:///{workdir / f'rerank-{n}.db'}"
    t = time.perf_counter()
    populate(url, vocab, n)
    setup = time.perf_counter() - t
    settings = Settings(database_url=url, data_dir=REPO_DATA)
    sessions = make_sessionmaker(make_engine(url))
    with PeakMemory() as memory:
        first = rerank(settings, sessions, RerankParams())
    changed = change_share(url, 0.01, seed=n)
    second = rerank(settings, sessions, RerankParams())
    return {"n": n, "setup": setup, "first": first.counts, "second": second.counts, "changed": changed, "peak": memory.peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="profiles (repeatable)")
    args = parser.parse_args()
    vocab = load_vocabulary()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(n, vocab, Path(tmp)) for n in (args.n or [10_000, 100_000])]
    header = f"{'N':>8}{'encoding s':>12}{'scoring s':>11}{'storing s':>11}{'total s':>10}{'peak GB':>9}{'stored':>10}{'1% run: changed':>17}{'encoded':>9}{'total s':>9}"
    print(header)
    print("-" * len(header))
    for r in rows:
        s, s2 = r["first"]["seconds"], r["second"]["seconds"]
        print(
            f"{r['n']:>8}{s['encoding']:>12.1f}{s['scoring']:>11.1f}{s['storing']:>11.1f}{s['total']:>10.1f}{r['peak'] / 2**30:>9.2f}"
            f"{r['first']['suggestions']:>10}{r['changed']:>17}{r['second']['encoded']:>9}{s2['total']:>9.1f}"
        )
    print(f"(peak is this process's resident memory during the first run; ru_maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB)")


if __name__ == "__main__":
    main()
