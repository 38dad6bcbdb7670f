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
from dataclasses import dataclass, field, replace

import numpy as np

from matching.scoring import ScoringParams, coverage_block, explanation_roles, need_maxima
from matching.types import Kind
from matching.vectors import ProfileVectors, StackedPhrases

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
    candidates: StackedPhrases  # the candidates' phrases, in candidate order
    dense: np.ndarray  # (n,) the index's dense score of each candidate
    lexical: np.ndarray  # (n,) TF-IDF cosine
    usual: np.ndarray  # (n,) each candidate's usual dense score from askers of the query's kind
    themes: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (n,) shared themes (city pairs)


def pair_features(
    direction: Direction, inputs: PairInputs, places: Mapping[str, Place], params: ScoringParams
) -> np.ndarray:
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
    direction: Direction, query: ProfileVectors, candidates: StackedPhrases, params: ScoringParams
) -> tuple[np.ndarray, np.ndarray]:
    """(best_needs, reverse_fit) of each candidate, from one product of the query's phrases with all of theirs.

    The reverse fit is `coverage_block`'s backward coverage with the candidate's needs taken as
    `explanation_roles` quotes them (an organisation's offers, a city's interests).
    """
    best, reverse = np.zeros(len(candidates)), np.zeros(len(candidates))
    keep = np.diff(candidates.offsets) > 0
    if not keep.any() or len(query) == 0:
        return best, reverse
    # a candidate without phrases has no rows: the others' offsets, then the total
    offsets = np.concatenate((candidates.offsets[:-1][keep], candidates.offsets[-1:]))
    sims = query.vectors.astype(np.float64) @ candidates.vectors.astype(np.float64).T
    both_ways = replace(explanation_roles(*direction), reciprocal=True)
    per_need = np.clip(need_maxima(sims, query.roles, candidates.roles, offsets[:-1], both_ways, params), 0.0, None)
    best[keep] = -np.sort(-per_need, axis=0)[:_BEST_NEEDS].mean(axis=0)
    reverse[keep] = coverage_block(sims, query.roles, candidates.roles, offsets, both_ways, params)[1]
    return best, reverse


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
