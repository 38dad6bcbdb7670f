"""What a learned score is made of: per-pair signals a programme manager would name.

Each direction (who asks, for whom) has a few features of a (query, candidate) pair:

- text: `fit` (the dense coverage of the query's needs, fused both ways for city pairings),
  `best_needs` (how well the candidate serves the query's best-served needs: an organisation is a
  specialist, serving one or two of a city's needs, not all of them) and `reverse_fit` (how much
  of what the candidate brings the query asks for);
- `lexical`: the TF-IDF cosine of the whole texts;
- `themes`: themes of the taxonomy both profiles touch;
- `popularity`: how far the pair's score stands above the candidate's usual score from other
  askers (in the spirit of CSLS: a candidate close to everyone is weak evidence for any one);
- place: `language` (the two countries share an official language), and for organisations
  `local` (based in the asking city, or the organisation's own city for the mirror),
  `partner_city` (based in a city the asking city is partnered with) and `national`.

Place features are 0/1. The others are compared only among the query's candidates, so the ranker
standardises them within each candidate list (`standardised`).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from matching.scoring import Kind, ScoringParams, direction_roles, needs_mask, role_table, serve_weights
from matching.vectors import ProfileVectors

__all__ = [
    "Place",
    "Direction",
    "FEATURES",
    "BINARY",
    "GROUPS",
    "direction_of",
    "PairInputs",
    "pair_features",
    "standardised",
    "need_best_cosines",
    "separating_threshold",
]

Direction = tuple[Kind, Kind]

_CITY_PAIR = ("fit", "lexical", "themes", "popularity", "language")
_COLLABORATOR = ("fit", "best_needs", "reverse_fit", "lexical", "popularity", "local", "partner_city", "national")

FEATURES: dict[Direction, tuple[str, ...]] = {
    (Kind.CITY, Kind.CITY): _CITY_PAIR,
    (Kind.CITY, Kind.ORGANISATION): _COLLABORATOR,
    (Kind.ORGANISATION, Kind.CITY): _COLLABORATOR,
}
BINARY = frozenset({"language", "local", "partner_city", "national"})
# what the evaluation's ablation removes, one group at a time
GROUPS: dict[str, tuple[str, ...]] = {
    "text": ("fit", "best_needs", "reverse_fit"),
    "lexical": ("lexical",),
    "themes": ("themes",),
    "popularity": ("popularity",),
    "language": ("language",),
    "locality": ("local", "partner_city", "national"),
}
_BEST_NEEDS = 2  # "best-served needs": the mean of this many of a query's needs, the best served


@dataclass(frozen=True)
class Place:
    """Where a profile is: its country, that country's official languages, an organisation's home city."""

    country: str
    languages: frozenset[str] = frozenset()
    city: str | None = None


def direction_of(query_kind: Kind, target: Kind) -> Direction | None:
    """The direction a learned model exists for, or None (organisations asking for organisations)."""
    direction = (Kind(query_kind), Kind(target))
    return direction if direction in FEATURES else None


@dataclass(frozen=True)
class PairInputs:
    """One query and its candidate list, with what was already scored for them."""

    key: str | None
    vectors: ProfileVectors
    place: Place | None
    partners: frozenset[str]  # a city's partner cities; for an organisation, its home city's
    candidate_keys: Sequence[str]
    candidates: Sequence[ProfileVectors]
    dense: np.ndarray  # (n,) the index's dense score of each candidate
    lexical: np.ndarray  # (n,) TF-IDF cosine
    usual: np.ndarray  # (n,) each candidate's usual dense score from askers of the query's kind
    themes: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (n,) shared themes (city pairs)


def pair_features(direction: Direction, inputs: PairInputs, places: Mapping[str, Place], params: ScoringParams) -> np.ndarray:
    """(candidates × FEATURES[direction]) raw feature values, in the order of `FEATURES`."""
    names = FEATURES[direction]
    n = len(inputs.candidate_keys)
    out = np.zeros((n, len(names)), dtype=np.float64)
    if n == 0:
        return out
    col = {name: i for i, name in enumerate(names)}
    out[:, col["fit"]] = inputs.dense
    out[:, col["lexical"]] = inputs.lexical
    out[:, col["popularity"]] = inputs.dense - inputs.usual
    if "themes" in col and len(inputs.themes):
        out[:, col["themes"]] = inputs.themes
    if "best_needs" in col:
        best, reverse = _collaborator_coverage(direction, inputs.vectors, inputs.candidates, params)
        out[:, col["best_needs"]] = best
        out[:, col["reverse_fit"]] = reverse
    here = inputs.place
    cand = [places.get(key) for key in inputs.candidate_keys]
    if here is None:
        return out
    if "language" in col:
        out[:, col["language"]] = [bool(p and p.languages & here.languages) for p in cand]
    if "local" in col:
        query_kind = direction[0]
        for i, (key, p) in enumerate(zip(inputs.candidate_keys, cand)):
            if p is None:
                continue
            if query_kind == Kind.CITY:  # the candidate is an organisation
                local, partner = p.city is not None and p.city == inputs.key, p.city in inputs.partners
            else:  # an organisation asking which cities
                local, partner = here.city is not None and here.city == key, key in inputs.partners
            out[i, col["local"]] = local
            out[i, col["partner_city"]] = partner and not local
            out[i, col["national"]] = p.country == here.country
    return out


def _collaborator_coverage(
    direction: Direction, query: ProfileVectors, candidates: Sequence[ProfileVectors], params: ScoringParams
) -> tuple[np.ndarray, np.ndarray]:
    """(best_needs, reverse_fit) of each candidate, from one product of the query's phrases with all of theirs."""
    n = len(candidates)
    forward = direction_roles(*direction)
    reverse = direction_roles(direction[1], direction[0])
    lengths = np.array([len(c) for c in candidates], dtype=np.int64)
    keep = lengths > 0
    best = np.zeros(n)
    rev = np.zeros(n)
    if not keep.any() or len(query) == 0:
        return best, rev
    used = [c for c in candidates if len(c)]
    starts, roles, sims = _stacked_cosines(query, used)
    per_need = _per_need(query, roles, sims, starts, forward.query_needs, forward.target_serves, params)
    top = min(_BEST_NEEDS, per_need.shape[0])
    best[keep] = -np.sort(-per_need, axis=0)[:top].mean(axis=0)
    # reverse: each candidate need's best weighted cosine with any query phrase, averaged per candidate
    per_phrase = (sims * serve_weights(query.roles, reverse.target_serves, params)[:, None]).max(axis=0)
    wanted = role_table(reverse.query_needs)[roles]
    counts = np.add.reduceat(wanted.astype(np.float64), starts)
    sums = np.add.reduceat(np.where(wanted, per_phrase, 0.0), starts)
    all_sums = np.add.reduceat(per_phrase, starts)
    used_lengths = lengths[keep].astype(np.float64)
    rev[keep] = np.clip(np.where(counts > 0, sums / np.maximum(counts, 1), all_sums / used_lengths), 0.0, None)
    return best, rev


def _stacked_cosines(query: ProfileVectors, used: Sequence[ProfileVectors]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each candidate's first stacked phrase, the stacked phrases' roles, and (query phrases × stacked) cosines."""
    starts = np.concatenate(([0], np.cumsum([len(c) for c in used])[:-1])).astype(np.int64)
    vectors = np.concatenate([c.vectors for c in used]).astype(np.float64)
    roles = np.concatenate([c.roles for c in used])
    return starts, roles, query.vectors.astype(np.float64) @ vectors.T


def _per_need(query, roles, sims, starts, needs, serves, params) -> np.ndarray:
    """(query needs × candidates): each need's best weighted cosine with each candidate, floored at 0."""
    need = needs_mask(query.roles, needs)
    per_need = np.maximum.reduceat(sims[need] * serve_weights(roles, serves, params)[None, :], starts, axis=1)
    return np.clip(per_need, 0.0, None)


def need_best_cosines(direction: Direction, query: ProfileVectors, candidates: Sequence[ProfileVectors], params: ScoringParams) -> np.ndarray:
    """(query needs × candidates): how well each candidate serves each of the query's needs, as an
    explanation quotes it (the best weighted cosine). Candidates without phrases get 0."""
    roles = direction_roles(*direction)
    out = np.zeros((int(needs_mask(query.roles, roles.query_needs).sum()), len(candidates)))
    keep = np.array([len(c) > 0 for c in candidates], dtype=bool)
    if keep.any() and len(query):
        starts, stacked_roles, sims = _stacked_cosines(query, [c for c in candidates if len(c)])
        out[:, keep] = _per_need(query, stacked_roles, sims, starts, roles.query_needs, roles.target_serves, params)
    return out


def separating_threshold(positive: np.ndarray, negative: np.ndarray) -> float:
    """The cosine that best separates needs served by a true partner from needs served by others
    (the largest true-positive minus false-positive rate, Youden's J), rounded to 0.01."""
    if len(positive) == 0 or len(negative) == 0:
        return 0.0
    grid = np.round(np.arange(0.0, 1.0, 0.01), 2)
    gain = [(positive >= t).mean() - (negative >= t).mean() for t in grid]
    return float(grid[int(np.argmax(gain))])


def standardised(x: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Features comparable across queries: each non-binary column centred and scaled within the
    query's own candidate list (a constant column becomes 0); place features stay 0/1."""
    out = np.array(x, dtype=np.float64, copy=True)
    if len(out) == 0:
        return out
    for j, name in enumerate(names):
        if name in BINARY:
            continue
        column = out[:, j]
        spread = column.std()
        out[:, j] = (column - column.mean()) / spread if spread > 1e-9 else 0.0
    return out
