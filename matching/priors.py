"""Tuned hand-set priors: the baseline a learned ranker has to beat.

Before learning anything, a programme office could add two or three priors to the hand-set score
by hand: a bonus for a shared official language, one for an organisation based in the asking
city or its country, and a correction for popular candidates (the pair's score above the
candidate's usual score, `matching.features`). This module tunes those bonuses the
way a careful person would, by trying a small grid of weights on known partnerships and keeping
the one with the best mean reciprocal rank, so evaluation can compare the learned ranker with the
best that hand-tuning reaches on the same data.

A candidate's tuned score is the hand-set score standardised within its candidate list, plus each
prior's weight times the prior (popularity standardised the same way, place priors 0/1).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np

from matching.features import FEATURES, Direction, standardised
from matching.ranker import TrainingQuery
from matching.types import Kind

__all__ = ["PRIORS", "GRID", "TunedPriors", "tuned_priors"]

PRIORS: dict[Direction, tuple[str, ...]] = {
    (Kind.CITY, Kind.CITY): ("popularity", "language"),
    (Kind.CITY, Kind.ORGANISATION): ("popularity", "local", "national"),
    (Kind.ORGANISATION, Kind.CITY): ("popularity", "local", "national"),
}
GRID = (0.0, 0.25, 0.5, 1.0, 2.0)  # each prior's weight, in units of the hand-set score's spread within a list


@dataclass(frozen=True)
class TunedPriors:
    """The chosen weight of each prior of one direction."""

    direction: Direction
    weights: tuple[float, ...]

    def scores(self, handset: np.ndarray, raw: np.ndarray) -> np.ndarray:
        base, priors = _inputs(self.direction, handset, raw)
        return base + priors @ np.asarray(self.weights)


def _inputs(direction: Direction, handset: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The standardised hand-set score of each candidate and its priors' columns."""
    names = FEATURES[direction]
    columns = [names.index(p) for p in PRIORS[direction]]
    base = standardised(np.asarray(handset, dtype=np.float64)[:, None], ("handset",))[:, 0]
    return base, standardised(raw, names)[:, columns]


def _reciprocal_rank(scores: np.ndarray, labels: np.ndarray) -> float:
    """1 / the rank of the best true partner, ties counted against it (the cautious reading)."""
    return 1.0 / int((scores >= scores[labels].max()).sum())


def tuned_priors(queries: Sequence[TrainingQuery]) -> TunedPriors | None:
    """The grid point with the best mean reciprocal rank on the queries (the first of equals, the
    grid's smallest weights), or None without a usable query."""
    usable = [
        q
        for q in queries
        if q.features is not None and q.handset is not None and q.labels.any() and len(q.candidates) > 1
    ]
    if not usable:
        return None
    direction = usable[0].direction
    inputs = [(*_inputs(direction, q.handset, q.features), q.labels.astype(bool)) for q in usable]
    best_mrr, best_weights = -1.0, ()
    for weights in product(GRID, repeat=len(PRIORS[direction])):
        w = np.asarray(weights)
        mrr = float(np.mean([_reciprocal_rank(base + priors @ w, labels) for base, priors, labels in inputs]))
        if mrr > best_mrr + 1e-12:
            best_mrr, best_weights = mrr, tuple(weights)
    return TunedPriors(direction, best_weights)
