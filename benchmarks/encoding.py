"""How fast each encoder backend turns short phrases into vectors, and how close its vectors are to torch's.

    python benchmarks/encoding.py              # 3,000 phrases, 3 rounds
    python benchmarks/encoding.py --n 5000 --rounds 5

The phrases are the benchmark vocabulary (benchmarks/synthetic.py: interests, offers and description
sentences about urban-cooperation themes), a random sample of `--n`. Each backend encodes them as the
service does (`Encoder.encode`, batches of 64); the rounds interleave the backends so that load from
other processes falls on all of them alike, and the table shows each backend's median round. The
ONNX export is made (once, into the encoder cache) before anything is timed.

Targets (issue 19): int8 ≥ 2.5× torch, cosine to torch mean ≥ 0.99 and min ≥ 0.97.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.synthetic import build_phrases
from embeddings import BACKENDS, load_encoder


def sample_phrases(n: int, seed: int = 0) -> list[str]:
    texts, _, _ = build_phrases(seed)
    order = np.random.default_rng(seed).permutation(len(texts))
    return [texts[i] for i in order[:n]]


def measure(phrases: list[str], rounds: int, export_root: Path | None) -> list[dict]:
    encoders = {b: load_encoder(backend=b, export_root=export_root) for b in BACKENDS}
    for encoder in encoders.values():
        encoder.encode(phrases[:128])  # load (and export) the model, warm its kernels
    seconds: dict[str, list[float]] = {b: [] for b in BACKENDS}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for backend, encoder in encoders.items():
            start = time.perf_counter()
            vectors[backend] = encoder.encode(phrases)
            seconds[backend].append(time.perf_counter() - start)
    torch_rate = len(phrases) / statistics.median(seconds["torch"])
    rows = []
    for backend in BACKENDS:
        rate = len(phrases) / statistics.median(seconds[backend])
        cosine = (vectors[backend] * vectors["torch"]).sum(axis=1)
        rows.append(
            {
                "backend": backend,
                "rate": rate,
                "rounds": [len(phrases) / s for s in seconds[backend]],
                "speedup": rate / torch_rate,
                "mean": float(cosine.mean()),
                "p1": float(np.quantile(cosine, 0.01)),
                "min": float(cosine.min()),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3000, help="phrases encoded per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--export-root", type=Path, default=None, help="ONNX exports; default: the user cache")
    args = parser.parse_args()

    import onnxruntime
    import torch

    phrases = sample_phrases(args.n)
    words = [len(p.split()) for p in phrases]
    print(
        f"{len(phrases)} phrases ({statistics.mean(words):.1f} words on average), {args.rounds} rounds; "
        f"torch {torch.__version__} on {torch.get_num_threads()} threads, onnxruntime {onnxruntime.__version__}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    rows = measure(phrases, args.rounds, args.export_root)
    print()
    print("| backend | phrases/s (median) | rounds | vs torch | cosine to torch mean / 1st pct / min |")
    print("|---|---|---|---|---|")
    for r in rows:
        rounds = " ".join(f"{x:.0f}" for x in r["rounds"])
        print(
            f"| {r['backend']} | {r['rate']:,.0f} | {rounds} | {r['speedup']:.2f}× "
            f"| {r['mean']:.4f} / {r['p1']:.4f} / {r['min']:.4f} |"
        )
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    int8 = next(r for r in rows if r["backend"] == "onnx-int8")
    met = int8["speedup"] >= 2.5 and int8["mean"] >= 0.99 and int8["min"] >= 0.97
    print(f"int8 targets (≥ 2.5×, mean ≥ 0.99, min ≥ 0.97): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
