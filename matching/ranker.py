"""The learned ranker: a logistic regression per direction over `matching.features`, small enough to explain.

A suggestion's score is the logistic of the sum of one contribution per feature (weight × the
feature, standardised within the query's candidate list): 0.5 is the list's average candidate,
higher is better than average. The model's intercept (the base rate of a partner in the training
lists) is left out of the score, as it shifts every candidate alike and would make every score
look small. Weights are
learned only from known partnerships: each training query contributes its candidate list, the
true partners labelled 1. Few real pairings exist (about a hundred queries), so the model is
kept to a handful of features and strongly regularised.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression

from matching.features import FEATURES, Direction, standardised
from matching.types import Kind

__all__ = [
    "DirectionModel",
    "LearnedRanker",
    "TrainingQuery",
    "fit_direction",
    "direction_name",
    "parse_direction",
    "ranked",
]

REGULARISATION = 0.3  # C of the logistic regression: strong, for about a hundred queries


def direction_name(direction: Direction) -> str:
    return f"{direction[0].value}->{direction[1].value}"


def parse_direction(name: str) -> Direction:
    query, target = name.split("->")
    return Kind(query), Kind(target)


@dataclass(frozen=True)
class TrainingQuery:
    """One query's candidate list: raw features (rows in candidate order) and which are true partners."""

    direction: Direction
    fold: str  # the cohort (or programme) it belongs to: never trains the model that ranks it
    key: str
    candidates: tuple[str, ...]
    features: np.ndarray
    relevant: frozenset[str]
    handset: np.ndarray | None = None  # the hand-set score of each candidate, for comparison

    @property
    def labels(self) -> np.ndarray:
        return np.array([c in self.relevant for c in self.candidates], dtype=np.int64)


@dataclass(frozen=True)
class DirectionModel:
    """Weights of one direction's features (those not listed weigh nothing: an ablation)."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    intercept: float

    def contributions(self, direction: Direction, raw: np.ndarray) -> np.ndarray:
        """(candidates × FEATURES[direction]) each feature's share of each candidate's logit."""
        names = FEATURES[direction]
        z = standardised(raw, names)
        weight = np.array([dict(zip(self.features, self.weights)).get(name, 0.0) for name in names])
        return z * weight[None, :]

    def logits(self, direction: Direction, raw: np.ndarray) -> np.ndarray:
        return self.intercept + self.contributions(direction, raw).sum(axis=1)

    def scores(self, direction: Direction, raw: np.ndarray, contributions: np.ndarray | None = None) -> np.ndarray:
        """The score each candidate is shown with: logistic of its contributions' sum (see the module)."""
        parts = self.contributions(direction, raw) if contributions is None else contributions
        return 1.0 / (1.0 + np.exp(-parts.sum(axis=1)))


@dataclass(frozen=True)
class LearnedRanker:
    """The shipped models, with what they came from (`twinning train` writes and reproduces them)."""

    models: Mapping[Direction, DirectionModel]
    match_threshold: float = 0.0  # a phrase pair below this cosine is "no close match"
    meta: Mapping[str, object] = field(default_factory=dict)

    def model_for(self, direction: Direction | None) -> DirectionModel | None:
        return None if direction is None else self.models.get(direction)

    def to_json(self) -> dict:
        return {
            **self.meta,
            "match_threshold": self.match_threshold,
            "directions": {
                direction_name(d): {"intercept": m.intercept, "weights": dict(zip(m.features, m.weights))}
                for d, m in sorted(self.models.items(), key=lambda item: direction_name(item[0]))
            },
        }

    @classmethod
    def from_json(cls, raw: Mapping) -> "LearnedRanker":
        models = {}
        for name, model in raw["directions"].items():
            direction = parse_direction(name)
            weights = model["weights"]
            unknown = set(weights) - set(FEATURES[direction])
            if unknown:
                raise ValueError(f"{name}: unknown features {sorted(unknown)}")
            features = tuple(f for f in FEATURES[direction] if f in weights)
            models[direction] = DirectionModel(
                features, tuple(float(weights[f]) for f in features), float(model["intercept"])
            )
        meta = {k: v for k, v in raw.items() if k not in ("directions", "match_threshold")}
        return cls(models=models, match_threshold=float(raw.get("match_threshold", 0.0)), meta=meta)


def fit_direction(
    queries: Sequence[TrainingQuery], *, features: Sequence[str] | None = None, regularisation: float = REGULARISATION
) -> DirectionModel | None:
    """A logistic regression over the queries' standardised features; None without a true partner.

    Deterministic (lbfgs from zero), so the same queries give the same weights to the last digit.
    """
    usable = [q for q in queries if len(q.candidates) > 1 and q.labels.any()]
    if not usable:
        return None
    direction = usable[0].direction
    names = FEATURES[direction]
    chosen = tuple(f for f in names if features is None or f in features)
    columns = [names.index(f) for f in chosen]
    x = np.concatenate([standardised(q.features, names)[:, columns] for q in usable])
    y = np.concatenate([q.labels for q in usable])
    if not chosen or y.min() == y.max():
        return DirectionModel(chosen, tuple(0.0 for _ in chosen), 0.0)
    model = LogisticRegression(C=regularisation, max_iter=2000, tol=1e-8).fit(x, y)
    return DirectionModel(
        chosen, tuple(round(float(w), 6) for w in model.coef_[0]), round(float(model.intercept_[0]), 6)
    )


def ranked(keys: Sequence[str], scores: np.ndarray) -> list[str]:
    """Keys by score (to six places, as suggestions are reported) desc, ties by key: `Recommender`'s order."""
    rounded = np.round(np.asarray(scores, dtype=np.float64), 6)
    return [keys[i] for i in sorted(range(len(keys)), key=lambda i: (-rounded[i], keys[i]))]
