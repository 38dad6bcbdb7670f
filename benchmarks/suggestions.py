"""How fast and how exact are live suggestions at 10k and 100k profiles?

    .venv/bin/python benchmarks/suggestions.py                 # --n 10000 --n 100000
    .venv/bin/python benchmarks/suggestions.py --n 100000 --queries 500

Profiles are synthetic but built from real-model vectors (see `benchmarks/synthetic.py`; the
encoded vocabulary is cached in benchmarks/.cache). For each N the script prints: index build
time; resident memory once the index, the TF-IDF model and the theme tagger are built; in-process
latency of warm city→city (reciprocal) and city→organisation top-10 requests, the whole of
`Recommender.suggest` (retrieval, TF-IDF fusion, explanations), and of the index's retrieval
alone; the share of requests whose top-10 is identical (same keys, same order) to the exhaustive
top-10; the same for the final suggestions (after TF-IDF fusion) in all four directions, cities
and organisations asking for either; and the whole request over HTTP. BLAS runs on one thread,
as in the service.
Targets at N = 100k: p99 ≤ 20 ms in process and ≤ 30 ms over HTTP, ≥ 99 % identical, build ≤ 30 s,
RSS ≤ 3 GB.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Run as a script, this directory would come first on sys.path, and a module here named like a
# standard one (say, http.py) would shadow it; import through the package from the root instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import numpy as np  # noqa: E402
import psutil  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from benchmarks.agreement import identical_by_direction  # noqa: E402
from benchmarks.http_latency import live_recommender, measure_http  # noqa: E402
from benchmarks.synthetic import Vocabulary, generate_profiles, load_vocabulary  # noqa: E402
from matching.index import PhraseIndex  # noqa: E402
from matching.lexical import LexicalModel  # noqa: E402
from matching.recommend import Query  # noqa: E402
from matching.scoring import direction_roles  # noqa: E402
from matching.types import CandidateFilter, Kind  # noqa: E402

TARGETS = {"p99_ms": 20.0, "http_p99_ms": 30.0, "identical": 0.99, "build_s": 30.0, "rss_gb": 3.0}
WARMUP = 20


@dataclass
class Latency:
    """Per-request wall times and whether each top-10 equalled the exhaustive one."""

    times_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # process CPU time: less sensitive to other load
    retrieval_ms: list[float] = field(default_factory=list)  # the index's top_k alone
    identical: list[bool] = field(default_factory=list)

    def p(self, q: float) -> float:
        return float(np.percentile(self.times_ms, q))

    def cpu(self, q: float) -> float:
        return float(np.percentile(self.cpu_ms, q))

    def retrieval(self, q: float) -> float:
        return float(np.percentile(self.retrieval_ms, q))

    @property
    def share_identical(self) -> float:
        return float(np.mean(self.identical))


@dataclass
class Row:
    n: int
    vectors: int
    build_s: float
    rss_gb: float
    index_gb: float
    by_target: dict[str, Latency]
    exhaustive_ms: float
    upsert_us: tuple[float, float]  # p50, p99
    compact_s: float
    load: float  # 1-minute load average while measuring (other processes share the cores)
    http: dict[str, float]  # the whole request over a socket: p50, p99 (ms)
    final_identical: dict[str, float]  # per direction: final top-k identical to the exhaustive path's


def final_agreement(recommender, rng: np.random.Generator, n_queries: int, k: int) -> dict[str, float]:
    """Per direction, the share of requests whose final suggestions (TF-IDF fused over the pool)
    are the exhaustive path's, key for key: the pool's whole depth must be right, not only the
    dense top-k, and organisations asking for organisations (few needs, many near ties) are
    where a too shallow cascade showed."""
    index = recommender.index

    def lists(key: str, kind: Kind, target: Kind) -> tuple[list[str], list[str]]:
        vectors = index.vectors_of(key)
        query = Query(vectors, " ".join(vectors.texts), kind, key=key, place=recommender.places.get(key))
        crossing = kind == Kind.CITY and target == Kind.CITY  # city pairs cross blocs, as the API's default
        filt = CandidateFilter(
            kind=target.value, exclude_bloc=index.meta_of(key).bloc if crossing else None, exclude_keys=frozenset({key})
        )
        fast = recommender.suggest(query, filt, k, explained=False)
        exact = recommender.suggest(query, filt, k, explained=False, exact=True)
        return [s.key for s in fast], [s.key for s in exact]

    keys_by_kind = {
        kind: [key for key in index.keys() if index.meta_of(key).kind == kind.value]
        for kind in (Kind.CITY, Kind.ORGANISATION)
    }
    return identical_by_direction(keys_by_kind, lists, n_queries, rng)


def measure_encoding(vocab: Vocabulary, n_phrases: int = 2_000) -> float:
    """Phrases per second of the real model, batch 64, on distinct vocabulary phrases."""
    from embeddings.encoder import load_encoder

    encoder = load_encoder(batch_size=64)
    encoder.encode(list(vocab.texts[:64]))  # warm up
    rng = np.random.default_rng(0)
    texts = [vocab.texts[i] for i in rng.choice(len(vocab.texts), n_phrases, replace=False)]
    start = time.perf_counter()
    encoder.encode(texts)
    return n_phrases / (time.perf_counter() - start)


def measure(vocab: Vocabulary, n: int, n_queries: int, k: int, seed: int, final_queries: int) -> Row:
    entries = [e for chunk in generate_profiles(vocab, n, seed=seed) for e in chunk]
    n_vectors = sum(len(v) for _, v, _ in entries)
    gc.collect()
    start = time.perf_counter()
    index = PhraseIndex(vocab.vectors.shape[1]).bulk_load(entries)
    build_s = time.perf_counter() - start
    del entries  # the generated chunks are freed; the index holds its own copy
    lexical = LexicalModel().fit({key: " ".join(index.vectors_of(key).texts) for key in index.keys()})
    recommender = live_recommender(index, lexical)
    gc.collect()
    gc.freeze()  # as the service does once its index is loaded (service/app.py): no full collection walks it
    rss_gb = psutil.Process().memory_info().rss / 1e9  # what the service holds: index, TF-IDF, model

    rng = np.random.default_rng(seed + 1)
    cities = [key for key in index.keys() if index.meta_of(key).kind == "city"]
    queries = [cities[i] for i in rng.choice(len(cities), n_queries + WARMUP, replace=False)]
    requests = {
        target.value: [
            (
                Query(
                    index.vectors_of(key),
                    " ".join(index.vectors_of(key).texts),
                    Kind.CITY,
                    key=key,
                    place=recommender.places.get(key),
                ),
                CandidateFilter(
                    kind=target.value,
                    exclude_bloc=index.meta_of(key).bloc if target == Kind.CITY else None,  # pairs cross blocs
                    exclude_keys=frozenset({key}),
                ),
            )
            for key in queries
        ]
        for target in (Kind.CITY, Kind.ORGANISATION)
    }
    # all timed requests first, all exhaustive ones after: timing stays apart from the slow path
    by_target: dict[str, Latency] = {}
    for target, batch in requests.items():
        latency = by_target[target] = Latency()
        for i, (query, filt) in enumerate(batch):
            start, cpu = time.perf_counter(), time.process_time()
            recommender.suggest(query, filt, k)
            elapsed, cpu = (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000
            if i >= WARMUP:
                latency.times_ms.append(elapsed)
                latency.cpu_ms.append(cpu)
    load = os.getloadavg()[0]
    params = recommender.params
    exhaustive: list[float] = []
    for target, batch in requests.items():
        for query, filt in batch[WARMUP:]:
            roles = direction_roles(Kind.CITY, Kind(target))
            start = time.perf_counter()
            fast = index.top_k(query.vectors, roles, params, k, filt)
            by_target[target].retrieval_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            exact = index.top_k(query.vectors, roles, params, k, filt, exact=True)
            exhaustive.append((time.perf_counter() - start) * 1000)
            by_target[target].identical.append([s.key for s in fast] == [s.key for s in exact])
    final = final_agreement(recommender, rng, final_queries, k)
    http = measure_http(recommender, queries, target="city", k=k, warmup=WARMUP)
    upsert_us, compact_s = measure_writes(index, vocab, seed)
    row = Row(
        n,
        n_vectors,
        build_s,
        rss_gb,
        index.nbytes / 1e9,
        by_target,
        float(np.median(exhaustive)),
        upsert_us,
        compact_s,
        load,
        http,
        final,
    )
    del index, recommender
    gc.unfreeze()
    gc.collect()
    return row


def measure_writes(
    index: PhraseIndex, vocab: Vocabulary, seed: int, n_writes: int = 1_000
) -> tuple[tuple[float, float], float]:
    """Upsert latency (µs, p50 and p99) replacing existing profiles, and one full compaction (s)."""
    fresh = next(generate_profiles(vocab, n_writes, seed=seed + 2))
    keys = list(index.keys())
    rng = np.random.default_rng(seed + 3)
    times = []
    for (_, vectors, meta), i in zip(fresh, rng.choice(len(keys), n_writes, replace=False)):
        start = time.perf_counter()
        index.upsert(keys[i], vectors, meta)
        times.append((time.perf_counter() - start) * 1e6)
    start = time.perf_counter()
    index.compact()
    return (float(np.percentile(times, 50)), float(np.percentile(times, 99))), time.perf_counter() - start


def print_table(rows: list[Row], encode_rate: float | None) -> None:
    if encode_rate is not None:
        print(
            "\nencoding (all-MiniLM-L6-v2, sentence-transformers, batch 64, 2,000 phrases): "
            f"{encode_rate:,.0f} phrases/s"
        )
    header = (
        "| N | vectors | build s | RSS GB (index arrays GB) "
        "| city→city p50 / p99 ms (CPU) | city→org p50 / p99 ms (CPU) "
        "| retrieval alone p50 / p99 ms c→c, c→o | top-k = exhaustive c→c / c→o "
        "| exhaustive p50 ms | HTTP c→c p50 / p99 ms "
        "| upsert p50 / p99 µs | compact s | load |"
    )
    print("\n" + header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in rows:
        cc, co = r.by_target["city"], r.by_target["organisation"]
        print(
            f"| {r.n:,} | {r.vectors:,} | {r.build_s:.1f} | {r.rss_gb:.2f} ({r.index_gb:.2f}) "
            f"| {cc.p(50):.1f} / {cc.p(99):.1f} ({cc.cpu(50):.1f} / {cc.cpu(99):.1f}) "
            f"| {co.p(50):.1f} / {co.p(99):.1f} ({co.cpu(50):.1f} / {co.cpu(99):.1f}) "
            f"| {cc.retrieval(50):.1f} / {cc.retrieval(99):.1f}, {co.retrieval(50):.1f} / {co.retrieval(99):.1f} "
            f"| {cc.share_identical:.1%} / {co.share_identical:.1%} | {r.exhaustive_ms:.0f} "
            f"| {r.http['p50']:.1f} / {r.http['p99']:.1f} "
            f"| {r.upsert_us[0]:.0f} / {r.upsert_us[1]:.0f} | {r.compact_s:.2f} | {r.load:.1f} |"
        )
    print("\n| N | final suggestions identical to the exhaustive path's, per direction |")
    print("|---|---|")
    for r in rows:
        print(f"| {r.n:,} | " + ", ".join(f"{d} {share:.0%}" for d, share in r.final_identical.items()) + " |")
    worst = rows[-1]
    misses = []
    misses += [
        f"final {d} identical {share:.1%} < {TARGETS['identical']:.0%}"
        for d, share in worst.final_identical.items()
        if share < TARGETS["identical"]
    ]
    for name, lat in worst.by_target.items():
        if lat.p(99) > TARGETS["p99_ms"]:
            misses.append(f"{name} p99 {lat.p(99):.1f} ms > {TARGETS['p99_ms']:.0f} ms")
        if lat.share_identical < TARGETS["identical"]:
            misses.append(f"{name} identical {lat.share_identical:.1%} < {TARGETS['identical']:.0%}")
    if worst.http["p99"] > TARGETS["http_p99_ms"]:
        misses.append(f"HTTP p99 {worst.http['p99']:.1f} ms > {TARGETS['http_p99_ms']:.0f} ms")
    if worst.build_s > TARGETS["build_s"]:
        misses.append(f"build {worst.build_s:.1f} s > {TARGETS['build_s']:.0f} s")
    if worst.rss_gb > TARGETS["rss_gb"]:
        misses.append(f"RSS {worst.rss_gb:.2f} GB > {TARGETS['rss_gb']:.0f} GB")
    print(f"\ntargets at N = {worst.n:,}: " + ("all met" if not misses else "; ".join(misses)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, action="append", help="profiles (repeatable; default 10000 and 100000)")
    parser.add_argument("--queries", type=int, default=200, help="warm requests per direction (default 200)")
    parser.add_argument(
        "--final-queries",
        type=int,
        default=100,
        help="requests per direction compared after TF-IDF fusion (default 100)",
    )
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-encoding", action="store_true", help="do not measure the model's throughput")
    args = parser.parse_args(argv)

    vocab = load_vocabulary()
    # as the service runs (service.app): one BLAS thread per process, the build included
    threadpool_limits(1, user_api="blas")
    encode_rate = None if args.skip_encoding else measure_encoding(vocab)
    rows = []
    for n in args.n or [10_000, 100_000]:
        rows.append(measure(vocab, n, args.queries, args.k, args.seed, args.final_queries))
        print(f"measured N = {n:,}", file=sys.stderr, flush=True)
    print_table(rows, encode_rate)


if __name__ == "__main__":
    main()
