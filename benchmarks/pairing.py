"""How long pairing a whole cohort takes: engine scores, optimal assignment, explanations.

    python benchmarks/pairing.py              # 500 × 500 and 5,000 × 5,000
    python benchmarks/pairing.py --n 500

Profiles are synthetic (benchmarks/synthetic.py: real-model phrase vectors clustered by theme).
Targets: 500 × 500 paired with explanations in ≤ 2 s; 5,000 × 5,000 in ≤ 60 s.
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthetic import generate_profiles, load_vocabulary
from embeddings import CachedEncoder, MemoryVectorCache, load_encoder
from matching.explain import explain
from matching.index import PhraseIndex
from matching.lexical import LexicalModel
from matching.pairing import PairingOptions, optimal_pairing
from matching.recommend import Recommender
from matching.scoring import direction_roles
from matching.types import Kind
from service.domain.pairing import cohort_scores
from service.live.recommenders import load_tagger
from service.settings import REPO_DATA


def measure(n: int, vocab, tagger, capacity: int = 1) -> dict:
    entries = [e for chunk in generate_profiles(vocab, 2 * n, seed=n, city_share=1.0) for e in chunk]
    index = PhraseIndex(dim=vocab.vectors.shape[1]).bulk_load(entries)
    lexical = LexicalModel().fit({key: " ".join(vectors.texts) for key, vectors, _ in entries})
    recommender = Recommender(index, lexical, tagger)
    keys = [key for key, _, _ in entries]
    sides = {"EU": keys[:n], "JP": keys[n:]}

    t0 = time.perf_counter()
    scores = cohort_scores(recommender, sides)
    t1 = time.perf_counter()
    options = PairingOptions(capacity={k: capacity for k in keys} if capacity != 1 else {})
    pairing = optimal_pairing(scores, options)
    t2 = time.perf_counter()
    roles = direction_roles(Kind.CITY, Kind.CITY)
    for p in pairing.pairs:
        explain(index.vectors_of(p.a), index.vectors_of(p.b), roles, recommender.params, tagger)
    t3 = time.perf_counter()
    return {
        "cohort": f"{n} × {n}" + (f" (capacity {capacity})" if capacity != 1 else ""),
        "scores_s": t1 - t0,
        "assign_s": t2 - t1,
        "explain_s": t3 - t2,
        "total_s": t3 - t0,
        "pairs": len(pairing.pairs),
        "regrets": len(pairing.regrets),
        "target_s": 2.0 if n <= 500 else 60.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="cities per side (repeatable)")
    parser.add_argument("--capacity", type=int, default=1, help="partners per city (2 exercises the integer programme)")
    args = parser.parse_args()
    vocab = load_vocabulary()
    encoder = CachedEncoder(load_encoder(), MemoryVectorCache())
    tagger = load_tagger(REPO_DATA / "themes.json", encoder)
    rows = [measure(n, vocab, tagger, args.capacity) for n in (args.n or [500, 5000])]
    header = (
        f"{'cohort':<26}{'scores s':>10}{'assign s':>10}{'explain s':>11}"
        f"{'total s':>10}{'target s':>10}{'pairs':>8}{'regrets':>9}  ok"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        ok = "yes" if r["total_s"] <= r["target_s"] else "NO"
        print(
            f"{r['cohort']:<26}{r['scores_s']:>10.2f}{r['assign_s']:>10.2f}{r['explain_s']:>11.2f}{r['total_s']:>10.2f}"
            f"{r['target_s']:>10.0f}{r['pairs']:>8}{r['regrets']:>9}  {ok}"
        )


if __name__ == "__main__":
    main()
