"""`twinning train`: the learned ranker's weights from the real known partnerships of `data/eval/`.

Each evaluation bundle gives training queries in three directions, every candidate list scored
by the same code the API runs (`Recommender.candidate_table`):
- city → city: each city of a cohort with a known partner on another side, its candidates the
  cities of the other sides;
- city → organisation: each city linked to an organisation, its candidates every organisation of
  the bundle; organisation → city the mirror (each linked organisation, every city).
A query's fold is its cohort (city pairs) or its programme (links): evaluation never ranks a
fold with weights that saw it. The same bundles and model give the same weights to the last digit.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings import CachedEncoder
from matching.explain import need_best_cosines, separating_threshold
from matching.features import FEATURES
from matching.ranker import REGULARISATION, DirectionModel, LearnedRanker, TrainingQuery, direction_name, fit_direction
from matching.recommend import Query, Recommender
from matching.scoring import ScoringParams
from matching.themes import ThemeTagger
from matching.types import CandidateFilter, Kind
from service.live.places import home_city, partner_cities
from service.live.profiles_text import ProfileText
from service.live.recommenders import build_recommender
from service.schemas import Bundle

__all__ = ["BundleQueries", "bundle_queries", "training_bundles", "train_ranker", "fit_models", "digest"]

_CITY, _ORG = Kind.CITY, Kind.ORGANISATION


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def training_bundles(data_dir: Path) -> list[Path]:
    """The evaluation bundles, whose real partnerships are the only training data."""
    return sorted((data_dir / "eval").glob("*.json"))


@dataclass(frozen=True)
class BundleQueries:
    """A bundle's engine and texts, and its queries in every direction with their candidate tables."""

    name: str
    bundle: Bundle
    recommender: Recommender
    texts: dict[str, ProfileText]
    queries: list[TrainingQuery]

    def of(self, direction: tuple[Kind, Kind]) -> list[TrainingQuery]:
        return [q for q in self.queries if q.direction == direction]


def _partners(bundle: Bundle) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for p in bundle.partnerships:
        out.setdefault(p.a, set()).add(p.b)
        out.setdefault(p.b, set()).add(p.a)
    return out


def bundle_queries(
    bundle: Bundle,
    name: str,
    encoder: CachedEncoder,
    tagger: ThemeTagger | None,
    params: ScoringParams = ScoringParams(),
) -> BundleQueries:
    """Every evaluation query of a bundle, with its whole candidate list scored."""
    texts = {p.id: ProfileText.from_fields(p.id, p) for p in bundle.profiles}
    recommender = build_recommender(list(texts.values()), encoder, tagger, params)
    partners = _partners(bundle)

    def query(key: str) -> Query:
        text = texts[key]
        cities = partner_cities(partners.get(home_city(text) or "", ()), texts)
        return Query(
            recommender.index.vectors_of(key),
            text.whole_text,
            text.kind,
            key=key,
            place=recommender.places[key],
            partners=cities,
        )

    def table(key: str, candidates: Sequence[str], target: Kind, relevant: set[str], fold: str) -> TrainingQuery:
        filt = CandidateFilter(kind=target.value, exclude_keys=frozenset(texts) - set(candidates) | {key})
        keys, handset, raw = recommender.candidate_table(query(key), filt)
        return TrainingQuery((texts[key].kind, target), fold, key, tuple(keys), raw, frozenset(relevant), handset)

    queries = []
    for cohort in bundle.cohorts:
        for side, members in cohort.sides.items():
            others = [m for s, ms in cohort.sides.items() if s != side for m in ms if texts[m].kind == _CITY]
            for member in members:
                relevant = partners.get(member, set()) & set(others)
                if texts[member].kind == _CITY and relevant:
                    queries.append(table(member, others, _CITY, relevant, f"{name}#{cohort.name}"))
    links: dict[str, dict[str, str]] = {}  # each linked profile: its counterparts and the link's programme
    for p in bundle.partnerships:
        for a, b in ((p.a, p.b), (p.b, p.a)):
            if {texts[a].kind, texts[b].kind} == {_CITY, _ORG}:
                links.setdefault(a, {})[b] = p.programme or ""
    for kind, target in ((_CITY, _ORG), (_ORG, _CITY)):
        candidates = sorted(k for k, t in texts.items() if t.kind == target)
        for key in sorted(k for k in links if texts[k].kind == kind):
            programme = min(links[key].values())
            queries.append(table(key, candidates, target, set(links[key]), f"{name}#{programme}"))
    return BundleQueries(name, bundle, recommender, texts, queries)


def fit_models(
    queries: Sequence[TrainingQuery],
    *,
    without: dict[tuple[Kind, Kind], Sequence[str]] | None = None,
    regularisation: float = REGULARISATION,
) -> dict[tuple[Kind, Kind], DirectionModel]:
    """One model per direction from the queries; `without` drops features (the ablation)."""
    models = {}
    for direction, names in FEATURES.items():
        dropped = set((without or {}).get(direction, ()))
        model = fit_direction(
            [q for q in queries if q.direction == direction],
            features=[n for n in names if n not in dropped],
            regularisation=regularisation,
        )
        if model is not None:
            models[direction] = model
    return models


def match_threshold(sets: Sequence[BundleQueries]) -> float:
    """The phrase-pair cosine that separates needs a true partner serves from needs others serve."""
    positive, negative = [], []
    for bq in sets:
        index = bq.recommender.index
        for q in bq.queries:
            if q.direction not in ((_CITY, _CITY), (_CITY, _ORG)):
                continue
            cosines = need_best_cosines(
                q.direction, index.vectors_of(q.key), [index.vectors_of(c) for c in q.candidates], bq.recommender.params
            )
            true = np.array([c in q.relevant for c in q.candidates])
            positive.append(cosines[:, true].ravel())
            negative.append(cosines[:, ~true].ravel())
    return separating_threshold(np.concatenate(positive or [np.zeros(0)]), np.concatenate(negative or [np.zeros(0)]))


def train_ranker(
    paths: Sequence[Path], sets: Sequence[BundleQueries], *, model: str, extra: Sequence[TrainingQuery] = ()
) -> LearnedRanker:
    """The ranker learned from the bundles' known partnerships (`sets`, read from `paths`) and
    `extra` feedback queries, recording the embedding `model` and the bundles' digests."""
    queries = [q for bq in sets for q in bq.queries] + list(extra)
    models = fit_models(queries)
    meta = {
        "format": "twinning.ranker/1",
        "model": model,
        "regularisation": REGULARISATION,
        "bundles": [{"name": p.name, "sha256": digest(p)} for p in paths],
        "queries": {direction_name(d): sum(q.direction == d for q in queries) for d in FEATURES},
        "feedback_queries": len(extra),
    }
    return LearnedRanker(models=models, match_threshold=match_threshold(sets), meta=meta)
