"""How long a whole batch re-ranking takes, stage by stage, against the matmul floor.

    python benchmarks/rerank.py                 # N = 10,000 and 100,000
    python benchmarks/rerank.py --n 10000
    python benchmarks/rerank.py --n 10000 --workers 1   # one scoring process, e.g. pinned with taskset
    python benchmarks/rerank.py --n 10000 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Builds N synthetic profiles (phrases drawn from the benchmark vocabulary of real urban-cooperation
phrases, benchmarks/synthetic.py) in a SQLite database (and, with `--postgres`, in a PostgreSQL
database of its own made through that server) with their vectors already cached, runs
`service.batch.jobs.rerank` as `twinning rerank` would, then changes 1 % of the profiles and runs again.
Prints wall time per stage, peak memory (proportional set size of this process and its forked
workers), the scoring time over the floor: bare numpy/scipy products of the shapes the scoring
multiplies (`floor_seconds`: code presence, the block sparse products, the reduced and exact
rescoring of each shortlist), on one thread, divided by the workers, and what the first run takes
on disk: the tables a run stores rows in, indexes included (SQLite: their pages, from `dbstat`;
PostgreSQL: `pg_total_relation_size`), in all and per stored suggestion. Then, for 100 sampled
profiles per direction, whether the stored top-10 is the live engine's exhaustive one, key for key.
Targets at N = 100k with vectors cached: whole run ≤ 10 min, scoring ≤ 2× the floor, peak memory
≤ 4 GB, a run ≤ 1 GB on disk; a run after 1 % of profiles changed re-encodes only those.
"""

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import psutil
from scipy import sparse
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from benchmarks.agreement import identical_by_direction
from benchmarks.synthetic import THEMES, home_city, load_vocabulary
from embeddings import CachedEncoder, load_encoder, split_description, text_key
from matching.batch import SHORTLIST_SIZE
from matching.index import RESCORE_SIZE
from matching.recommend import Query
from matching.types import Kind, PhraseRole
from service.batch.jobs import RerankParams, rerank
from service.db.engine import make_engine, make_sessionmaker, migrate
from service.db.models import Base, CachedVector, Phrase, Profile, RunSuggestion, utcnow
from service.db.vector_cache import DatabaseVectorCache
from service.live.index import SuggestionRequest, candidate_filter
from service.live.places import place_of
from service.live.profiles_text import all_profile_texts
from service.live.recommenders import build_recommender, load_ranker, load_tagger
from service.settings import REPO_DATA, Settings

BLOCS = {
    "EU": ["DE", "FR", "ES", "IT", "NL", "PL", "SE", "FI"],
    "LA": ["BR", "MX", "CO", "AR", "CL"],
    "AS": ["JP", "KR", "CN", "IN"],
    "NA": ["US", "CA"],
}
ORG_TYPES = ["company", "university", "research_centre", "public_agency", "ngo", "network"]


def synthetic_rows(vocab, n: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Profile and phrase rows: each profile about one main theme and up to two more."""
    rng = np.random.default_rng(seed)
    pools = {
        (t, r): np.flatnonzero((vocab.theme == t) & (vocab.role == r)) for t in range(len(THEMES)) for r in PhraseRole
    }
    blocs = list(BLOCS)
    profiles, phrases = [], []
    now = utcnow()
    homes, cities_in = np.random.default_rng(seed + 7), {}  # organisations' home cities: every other draw as before
    for i in range(n):
        is_city = rng.random() < 0.6
        themes = rng.choice(len(THEMES), size=1 + rng.choice(3, p=[0.3, 0.5, 0.2]), replace=False)

        def pick(role: PhraseRole, count: int, themes: np.ndarray = themes) -> list[str]:
            return [
                vocab.texts[pools[(int(t), role)][rng.integers(len(pools[(int(t), role)]))]]
                for t in rng.choice(themes, size=count)
            ]

        interests = list(
            dict.fromkeys(pick(PhraseRole.INTEREST, int(rng.integers(3, 6)) if is_city else int(rng.integers(0, 3))))
        )
        offers = list(
            dict.fromkeys(pick(PhraseRole.OFFER, int(rng.integers(2, 5)) if is_city else int(rng.integers(3, 6))))
        )
        description = " ".join(pick(PhraseRole.DESCRIPTION, int(rng.integers(2, 5))))
        bloc = blocs[int(rng.integers(len(blocs)))]
        pid = f"p{i:06d}"
        country = BLOCS[bloc][int(rng.integers(len(BLOCS[bloc])))]
        org_type = None if is_city else ORG_TYPES[int(rng.integers(len(ORG_TYPES)))]
        profiles.append(
            {
                "id": pid,
                "kind": "city" if is_city else "organisation",
                "name": f"Profile {i}",
                "bloc": bloc,
                "country": country,
                "org_type": org_type,
                "city": None if is_city else home_city(homes, cities_in.get(country, [])),
                "description": description,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        if is_city:
            cities_in.setdefault(country, []).append(pid)
        phrases += [{"profile_id": pid, "role": "interest", "position": j, "text": t} for j, t in enumerate(interests)]
        phrases += [{"profile_id": pid, "role": "offer", "position": j, "text": t} for j, t in enumerate(offers)]
    return profiles, phrases


def populate(url: str, vocab, n: int) -> tuple[list[dict], list[dict]]:
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
        rows = [
            {"model_id": model_id, "text_hash": k, "vector": np.asarray(v, np.float32).tobytes()}
            for k, v in known.items()
        ]
        conn.execute(insert(CachedVector), rows)
    engine.dispose()
    return profiles, phrases


def change_share(url: str, share: float, seed: int) -> int:
    """Give `share` of the profiles a new interest never seen before; returns how many changed."""
    engine = make_engine(url)
    rng = np.random.default_rng(seed)
    with engine.begin() as conn:
        ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM profiles")]
        chosen = rng.choice(len(ids), size=max(1, int(len(ids) * share)), replace=False)
        rows = [
            {
                "profile_id": ids[i],
                "role": "interest",
                "position": 99,
                "text": f"a fresh interest number {i} in tidal energy",
            }
            for i in chosen
        ]
        conn.execute(insert(Phrase), rows)
        conn.exec_driver_sql("UPDATE profiles SET version = version + 1")
    engine.dispose()
    return len(rows)


class PeakMemory:
    """Samples the proportional set size of this process and its children every 0.25 s.

    Forked workers share the parent's index copy-on-write: PSS counts each shared page once in all.
    """

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def _pss(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                return next(int(line.split()[1]) * 1024 for line in f if line.startswith("Pss:"))
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            return 0

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            pids = [me.pid] + [c.pid for c in me.children(recursive=True)]
            self.peak = max(self.peak, sum(self._pss(p) for p in pids))
            time.sleep(0.25)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


RUN_TABLES = [t.name for t in Base.metadata.sorted_tables if "run_id" in t.c]  # what a run stores rows in


def run_tables_bytes(url: str) -> int:
    """Bytes the tables of `RUN_TABLES` take, their indexes included: SQLite's pages of each (`dbstat`),
    PostgreSQL's `pg_total_relation_size`."""
    engine = make_engine(url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            marks = ", ".join("?" * len(RUN_TABLES))
            query = (
                "SELECT SUM(pgsize) FROM dbstat WHERE name IN "
                f"(SELECT name FROM sqlite_master WHERE tbl_name IN ({marks}))"
            )
            size = conn.exec_driver_sql(query, tuple(RUN_TABLES)).scalar()
        else:
            size = sum(
                conn.execute(text("SELECT pg_total_relation_size(:t)"), {"t": name}).scalar() for name in RUN_TABLES
            )
    engine.dispose()
    return int(size or 0)


@contextmanager
def database(engine_name: str, n: int, workdir: Path, postgres: str | None) -> Iterator[str]:
    """The URL of an empty database for one measurement: a SQLite file, or a PostgreSQL database made
    through `postgres` (a URL of that server) and dropped afterwards."""
    if engine_name == "sqlite":
        yield f"sqlite:///{workdir / f'rerank-{n}.db'}"
        return
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    name = f"twinning_rerank_{n}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _timed(fn, repeat: int = 3) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def floor_seconds(
    profiles: list[dict],
    phrases: list[dict],
    *,
    codes: int = 2_048,
    dim: int = 384,
    block: int = 256,
    shortlist: int = SHORTLIST_SIZE,
    rescore: int = RESCORE_SIZE,
    workers: int = 1,
) -> float:
    """Bare products of the shapes one run's scoring multiplies, on one thread, divided by the workers.

    Per target: the candidates' presence (rows × dim @ dim × codes); per block, the forward sparse
    product (block's needs → every candidate) and, city ↔ city, the block's presence and the
    backward sparse product; per query, the reduced (int8 → float32, 128-d) and the exact (float64)
    rescoring products. Explanations and TF-IDF are not counted: the floor is the scoring's.
    """
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    count = {"city": 0, "organisation": 0}
    rows = {"city": 0, "organisation": 0}
    kind_of = {p["id"]: p["kind"] for p in profiles}
    for p in profiles:
        count[p["kind"]] += 1
        rows[p["kind"]] += len(split_description(p["description"]))
    for ph in phrases:
        rows[kind_of[ph["profile_id"]]] += 1
    mean_len = (rows["city"] + rows["organisation"]) / len(profiles)
    n = len(profiles)
    total = 0.0
    with threadpool_limits(1):
        x = rng.standard_normal((4_096, dim)).astype(np.float32)
        centres = rng.standard_normal((dim, codes)).astype(np.float32)
        per_row = _timed(lambda: x @ centres) / len(x)
        # presence of cities twice (serving all roles; interests and descriptions), organisations once,
        # and city ↔ city the queries' own presence
        total += per_row * (2 * rows["city"] + rows["organisation"] + rows["city"])
        for target in ("city", "organisation"):
            c = count[target]
            presence_t = rng.random((codes, c), dtype=np.float32)
            needs = sparse.random(block, codes, density=4 / codes, format="csr", dtype=np.float32, random_state=1)
            total += _timed(lambda needs=needs, presence_t=presence_t: needs @ presence_t, 1) * n / block
            if target == "city":
                candidate_needs = sparse.random(
                    c, codes, density=4 / codes, format="csr", dtype=np.float32, random_state=2
                )
                queries = rng.random((codes, block), dtype=np.float32)
                product = lambda a=candidate_needs, b=queries: a @ b  # noqa: E731
                total += _timed(product, 1) * count["city"] / block
        reduced = rng.integers(-127, 127, (int(shortlist * mean_len), 128), dtype=np.int8)
        reduced_query = rng.standard_normal((128, 16)).astype(np.float32)
        exact = rng.standard_normal((int(rescore * mean_len), dim)).astype(np.float32)
        exact_query = rng.standard_normal((dim, 16))
        total += 2 * n * _timed(lambda: reduced.astype(np.float32) @ reduced_query, 50)
        total += 2 * n * _timed(lambda: exact.astype(np.float64) @ exact_query, 50)
    return total / workers


def agreement(settings: Settings, sessions, run_id: int, per_kind: int = 100, seed: int = 0) -> dict[str, float]:
    """Per direction, the share of sampled stored top-10 lists identical (same keys, same order) to
    the live engine's exhaustive ranking: how often `source=batch` shows what scoring every
    candidate exactly would. The benchmark stores no exclusions, so each profile excludes itself;
    the same sampled profiles of a kind are asked for both targets.
    """
    with sessions() as session:
        texts = all_profile_texts(session)
        stored: dict[tuple[str, str], list[str]] = {}
        rows = session.execute(
            select(RunSuggestion.profile_id, RunSuggestion.target, RunSuggestion.other_id)
            .where(RunSuggestion.run_id == run_id)
            .order_by(RunSuggestion.rank)
        )
        for profile_id, target, other in rows:
            stored.setdefault((profile_id, target), []).append(other)
    encoder = CachedEncoder(load_encoder(settings.model), DatabaseVectorCache(sessions))  # every vector is cached
    recommender = build_recommender(
        list(texts.values()),
        encoder,
        load_tagger(settings.themes_path, encoder),
        ranker=load_ranker(settings.ranker_path),
    )

    def lists(key: str, kind: Kind, target: Kind) -> tuple[list[str], list[str]]:
        text = texts[key]
        query = Query(recommender.index.vectors_of(key), text.whole_text, kind, key=key, place=place_of(text))
        filt = candidate_filter(text, text.bloc, SuggestionRequest(target=target), {key})
        live = [s.key for s in recommender.suggest(query, filt, 10, exact=True, explained=False)]
        return stored.get((key, target.value), []), live

    keys_by_kind = {
        kind: sorted(k for k, t in texts.items() if t.kind == kind) for kind in (Kind.CITY, Kind.ORGANISATION)
    }
    return identical_by_direction(keys_by_kind, lists, per_kind, np.random.default_rng(seed))


def measure(url: str, n: int, vocab, workers: int | None = None, sample: bool = True) -> dict:
    t = time.perf_counter()
    profiles, phrases = populate(url, vocab, n)
    setup = time.perf_counter() - t
    settings = Settings(database_url=url, data_dir=REPO_DATA)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    params = RerankParams.of(settings, workers=workers or settings.rerank_workers)
    with PeakMemory() as memory:
        first = rerank(settings, sessions, params)
    stored_bytes = run_tables_bytes(url)  # only the first run is stored yet
    print(
        f"N = {n:,} ({make_url(url).get_backend_name()}): setup {setup:.0f} s, first run {first.counts}, "
        f"peak PSS {memory.peak / 2**30:.2f} GB, run tables {stored_bytes / 2**20:.1f} MiB",
        file=sys.stderr,
        flush=True,
    )
    agree = agreement(settings, sessions, first.id) if sample else {}
    changed = change_share(url, 0.01, seed=n)
    second = rerank(settings, sessions, params)
    floor = floor_seconds(
        profiles, phrases, block=params.block_size, shortlist=params.shortlist, workers=params.workers
    )
    engine.dispose()
    return {
        "n": n,
        "database": make_url(url).get_backend_name(),
        "run_bytes": stored_bytes,
        "setup": setup,
        "first": first.counts,
        "second": second.counts,
        "changed": changed,
        "peak": memory.peak,
        "floor": floor,
        "workers": params.workers,
        "agreement": agree,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="profiles (repeatable)")
    parser.add_argument(
        "--workers", type=int, help="scoring processes (default: TWINNING_RERANK_WORKERS, else the CPU count)"
    )
    parser.add_argument(
        "--postgres", help="also measure on PostgreSQL: a URL of a server where a database of its own may be made"
    )
    parser.add_argument(
        "--skip-agreement", action="store_true", help="do not compare sampled stored lists with the exhaustive ones"
    )
    args = parser.parse_args()
    vocab = load_vocabulary()
    engines = ["sqlite"] + (["postgresql"] if args.postgres else [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.n or [10_000, 100_000]:
            for name in engines:
                with database(name, n, Path(tmp), args.postgres) as url:
                    rows.append(measure(url, n, vocab, args.workers, sample=not args.skip_agreement))
    header = (
        "| N | database | workers | encoding s | scoring s | storing s | total s | floor s | scoring / floor "
        "| peak GB (PSS) | stored | run size MB | bytes per stored suggestion | 1 % run: changed | encoded | total s |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in rows:
        s, s2 = r["first"]["seconds"], r["second"]["seconds"]
        print(
            f"| {r['n']:,} | {r['database']} | {r['workers']} | {s['encoding']:.1f} | {s['scoring']:.1f} "
            f"| {s['storing']:.1f} | {s['total']:.1f} | {r['floor']:.1f} | {s['scoring'] / r['floor']:.1f}× "
            f"| {r['peak'] / 2**30:.2f} | {r['first']['suggestions']:,} | {r['run_bytes'] / 1e6:,.1f} "
            f"| {r['run_bytes'] / max(r['first']['suggestions'], 1):,.0f} "
            f"| {r['changed']:,} | {r['second']['encoded']:,} | {s2['total']:.1f} |"
        )
    print(
        f"(load average {os.getloadavg()[0]:.1f}; targets at 100k: total ≤ 600 s, scoring ≤ 2× floor, "
        "peak ≤ 4 GB, run size ≤ 1,000 MB)"
    )
    if args.skip_agreement:
        return
    print()
    print(
        "| N, database | stored top-10 identical to the exhaustive live ranking, per direction "
        "(100 sampled profiles each: one list in 100 is the resolution) |"
    )
    print("|---|---|")
    for r in rows:
        shares = ", ".join(f"{d} {share:.0%}" for d, share in r["agreement"].items())
        print(f"| {r['n']:,} {r['database']} | {shares} |")


if __name__ == "__main__":
    main()
