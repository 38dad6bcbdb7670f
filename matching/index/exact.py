"""Exact scoring of stored candidates, as the exhaustive path and the cascade's last stage do it."""

from dataclasses import dataclass

import numpy as np

from matching.arrays import offsets, ranges
from matching.index.storage import PhraseStorage
from matching.scoring import DirectionRoles, ScoringParams, coverage_block, fuse_directions, needs_mask
from matching.vectors import ProfileVectors

__all__ = ["Scored", "exact_scores", "best", "dense", "query_rows", "padded"]


@dataclass(frozen=True)
class Scored:
    """One suggestion: `dense` is the fused score when reciprocal, else the forward coverage."""

    key: str
    dense: float
    forward: float
    backward: float | None


def exact_scores(
    storage: PhraseStorage,
    q: np.ndarray,
    q_roles: np.ndarray,
    slots: np.ndarray,
    roles: DirectionRoles,
    params: ScoringParams,
    block_rows: int,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Coverage of every slot given, by `coverage_block`, in blocks of about `block_rows` phrases.

    Cosines are taken in float64: OpenBLAS picks a different float32 kernel for a small block
    than for a large one, so the same candidate would score a few ulps apart on the cascade
    and the exhaustive path, and exact ties (duplicate profiles) would not stay ties. Rounded
    back to float32, the scores no longer depend on the block a candidate falls in.
    """
    query = padded(q).astype(np.float64)
    lengths = storage.length_[slots].astype(np.int64)
    ends = np.cumsum(lengths)
    cuts = np.searchsorted(ends, np.arange(block_rows, int(ends[-1]), block_rows), side="right")
    bounds = np.unique(np.concatenate(([0], cuts, [len(slots)])))
    fwd = np.empty(len(slots), dtype=np.float32)
    bwd = np.empty(len(slots), dtype=np.float32) if roles.reciprocal else None
    for a, b in zip(bounds[:-1], bounds[1:]):
        rows = ranges(storage.start_[slots[a:b]], lengths[a:b])
        # (rows × d) @ (d × q) is OpenBLAS's fast shape; coverage_block wants (q, rows) C-ordered
        sims = np.ascontiguousarray((storage.vectors.take(rows, axis=0).astype(np.float64) @ query).T[: len(q)])
        f, r = coverage_block(sims, q_roles, storage.roles.take(rows), offsets(lengths[a:b]), roles, params)
        fwd[a:b] = f
        if bwd is not None:
            bwd[a:b] = r
    return fwd, bwd


def best(
    storage: PhraseStorage, slots: np.ndarray, fwd: np.ndarray, bwd: np.ndarray | None, params: ScoringParams, k: int
) -> list[Scored]:
    """The k best by dense desc then key asc; every tie at the k-th score is considered."""
    scores = dense(fwd, bwd, params)
    if len(scores) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        pick = np.flatnonzero(scores >= kth)
    else:
        pick = np.arange(len(scores))
    keys = storage.keys_at(slots[pick])
    order = np.lexsort((np.array(keys), -scores[pick]))[:k]  # by the last key first: dense desc, then key
    chosen = pick[order]
    backward = [None] * len(chosen) if bwd is None else bwd[chosen].tolist()
    return [
        Scored(key=keys[i], dense=d, forward=f, backward=b)
        for i, d, f, b in zip(order.tolist(), scores[chosen].tolist(), fwd[chosen].tolist(), backward)
    ]


def dense(fwd: np.ndarray, bwd: np.ndarray | None, params: ScoringParams) -> np.ndarray:
    """The dense score from coverages: fused both ways when reciprocal, else the forward one."""
    return (fuse_directions(fwd, bwd, params.fusion) if bwd is not None else fwd).astype(np.float32)


def query_rows(query: ProfileVectors, roles: DirectionRoles) -> tuple[np.ndarray, np.ndarray]:
    """The query's rows and roles that take part: one way, only its needs (dropped before any product)."""
    q, q_roles = np.ascontiguousarray(query.vectors, dtype=np.float32), query.roles
    if not roles.reciprocal:
        need = needs_mask(q_roles, roles.query_needs)
        q, q_roles = np.ascontiguousarray(q[need]), q_roles[need]
    return q, q_roles


def padded(q: np.ndarray) -> np.ndarray:
    """q.T with zero columns up to a multiple of 8.

    OpenBLAS multiplies a tall matrix by 10 columns up to twice as slowly as by 8 or 16.
    """
    n, d = q.shape
    out = np.zeros((d, -(-n // 8) * 8), dtype=np.float32)
    out[:, :n] = q.T
    return out
