"""`twinning eval`: recommendation quality on a bundle's known partnerships (../shared/FORMATS.md).

Only the bundle's own text feeds the scores; its partnerships are the answers, never an input,
except that the learned ranker's weights come from the real partnerships of `data/eval/`: a cohort
of those bundles is ranked by weights retrained without it (leave one cohort out), any other
bundle by the shipped weights.

Methods: `engine` (the learned ranker, what the API serves), `handset` (0.8 dense + 0.2 lexical,
the score before learning), `handset_priors` (the hand-set score plus popularity and place priors
whose weights are tuned by grid search on the same training folds: the best hand-tuning reaches),
`tfidf` and `dense` (the naive baselines). Cohort pairing is reported for the engine and, in
`cohort_pairing_methods`, for every method that scores a pair whichever side asks. `ablation` ranks with the
learned ranker retrained without each feature group in turn; `organisations_beyond_city` ranks
collaborators with the asking city's own organisations left out, where text must do the work.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from embeddings import CachedEncoder
from matching.evaluate import mean_metrics, query_metrics, rank_of_first
from matching.features import FEATURES, GROUPS
from matching.pairing import CohortScores, optimal_pairing, top1_pairs
from matching.priors import TunedPriors, tuned_priors
from matching.ranker import DirectionModel, LearnedRanker, TrainingQuery, ranked
from matching.types import Kind
from service.domain.pairing import cohort_scores
from service.learning.training import BundleQueries, fit_models
from service.live.profiles_text import ProfileText

__all__ = ["evaluate_bundle", "Miss"]

Ranker = Callable[[str, list[str], Kind], list[str]]
_CITY, _ORG = Kind.CITY, Kind.ORGANISATION


@dataclass(frozen=True)
class Miss:
    """A query whose true partner was not ranked first, for the readable report."""

    section: str
    method: str
    query: str
    partner: str
    rank: int | None
    above: list[str]


def _cosine_ranker(vectors: dict[str, np.ndarray]) -> Ranker:
    def rank(query_id: str, candidates: list[str], target: Kind) -> list[str]:
        q = vectors[query_id]
        scores = [(-float(q @ vectors[c]), c) for c in candidates]
        return [c for _, c in sorted(scores)]

    return rank


def _tfidf_vectors(texts: dict[str, ProfileText]) -> dict[str, np.ndarray]:
    keys = list(texts)
    matrix = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform([texts[k].whole_text for k in keys])
    return {k: matrix[i].toarray().ravel() for i, k in enumerate(keys)}


def _dense_vectors(texts: dict[str, ProfileText], encoder: CachedEncoder) -> dict[str, np.ndarray]:
    keys = list(texts)
    matrix = encoder.encode([texts[k].whole_text for k in keys])
    return {k: matrix[i] for i, k in enumerate(keys)}


Models = dict[tuple[Kind, Kind], DirectionModel]


class _Learned:
    """The models that may rank each fold: retrained without it when the shipped ones saw it."""

    def __init__(self, shipped: LearnedRanker | None, training: Sequence[TrainingQuery], trained_on_this: bool) -> None:
        self.shipped = shipped
        self.training = list(training)
        self.trained_on_this = trained_on_this
        self._cache: dict[tuple[str, str], Models] = {}
        self._priors: dict[tuple[str, tuple[Kind, Kind]], TunedPriors | None] = {}

    def models(self, fold: str, ablate: str = "") -> Models:
        """The models ranking `fold`, without the feature group `ablate`: retrained without the fold
        when it is one of the training bundles', else the shipped ones (retrained on all for an ablation)."""
        held_out = fold if self.trained_on_this else ""
        key = (held_out, ablate)
        if key not in self._cache:
            if not held_out and not ablate and self.shipped is not None:
                self._cache[key] = dict(self.shipped.models)
            else:
                without = {d: GROUPS[ablate] for d in FEATURES} if ablate else None
                self._cache[key] = fit_models([q for q in self.training if q.fold != held_out], without=without)
        return self._cache[key]

    def priors(self, fold: str, direction: tuple[Kind, Kind]) -> TunedPriors | None:
        """Hand-set priors tuned on the same queries as the models ranking `fold`."""
        held_out = fold if self.trained_on_this else ""
        key = (held_out, direction)
        if key not in self._priors:
            self._priors[key] = tuned_priors(
                [q for q in self.training if q.fold != held_out and q.direction == direction]
            )
        return self._priors[key]

    def with_priors(self, q: TrainingQuery) -> list[str]:
        priors = self.priors(q.fold, q.direction)
        if priors is None or q.features is None:
            return ranked(q.candidates, q.handset)
        return ranked(q.candidates, priors.scores(q.handset, q.features))

    def ranking(self, q: TrainingQuery, ablate: str = "") -> list[str]:
        model = self.models(q.fold, ablate).get(q.direction)
        if model is None or q.features is None:
            return ranked(q.candidates, q.handset)
        return ranked(q.candidates, model.scores(q.direction, q.features))


def _metrics(
    queries: Sequence[TrainingQuery],
    rank: Callable[[TrainingQuery], list[str]],
    ks,
    name: str,
    method: str,
    misses: list[Miss] | None,
) -> dict:
    per_query = []
    for q in queries:
        ranking = rank(q)
        per_query.append(query_metrics(ranking, set(q.relevant), ks=ks))
        first = rank_of_first(ranking, set(q.relevant))
        if misses is not None and first != 1:
            best = next((r for r in ranking if r in q.relevant), sorted(q.relevant)[0])
            misses.append(Miss(name, method, q.key, best, first, ranking[: (first or len(ranking)) - 1][:5]))
    return mean_metrics(per_query)


def _beyond_city(queries: Sequence[TrainingQuery], texts: dict[str, ProfileText]) -> list[TrainingQuery]:
    """Collaborator queries with the asking city's own organisations removed (queries left with no true partner go)."""
    out = []
    for q in queries:
        keep = [i for i, c in enumerate(q.candidates) if texts[c].city != q.key]
        relevant = q.relevant & {q.candidates[i] for i in keep}
        if relevant:
            out.append(
                TrainingQuery(
                    q.direction,
                    q.fold,
                    q.key,
                    tuple(q.candidates[i] for i in keep),
                    q.features[keep] if q.features is not None else None,
                    frozenset(relevant),
                    q.handset[keep],
                )
            )
    return out


def _section(
    queries: Sequence[TrainingQuery],
    name: str,
    ks,
    rankers: dict[str, Callable[[TrainingQuery], list[str]]],
    misses: list[Miss] | None,
) -> dict | None:
    if not queries:
        return None
    return {
        "queries": len(queries),
        "methods": {m: _metrics(queries, r, ks, name, m, misses) for m, r in rankers.items()},
    }


def evaluate_bundle(
    bq: BundleQueries,
    encoder: CachedEncoder,
    shipped: LearnedRanker | None,
    training: Sequence[TrainingQuery],
    trained_on_this: bool,
) -> tuple[dict, list[Miss]]:
    """The `--json` object of FORMATS.md (with `handset`, `ablation`, collaborators beyond the asking city), misses."""
    learned = _Learned(shipped, training, trained_on_this)
    texts = bq.texts
    tfidf_vectors, dense_vectors = _tfidf_vectors(texts), _dense_vectors(texts, encoder)
    tfidf, dense = _cosine_ranker(tfidf_vectors), _cosine_ranker(dense_vectors)
    rankers = {
        "engine": learned.ranking,
        "handset": lambda q: ranked(q.candidates, q.handset),
        "handset_priors": learned.with_priors,
        "tfidf": lambda q: tfidf(q.key, list(q.candidates), q.direction[1]),
        "dense": lambda q: dense(q.key, list(q.candidates), q.direction[1]),
    }
    cities, orgs = bq.of((_CITY, _CITY)), bq.of((_CITY, _ORG))
    misses: list[Miss] = []
    result: dict = {
        "bundle": bq.name,
        "model": encoder.name,
        "ranker": "leave-one-cohort-out"
        if trained_on_this
        else ("shipped" if shipped is not None else "trained on data/eval"),
        "ranker_trained_on": [b.get("name") for b in shipped.meta.get("bundles", [])] if shipped is not None else [],
        "cities": _section(cities, "cities", (1, 3), rankers, misses),
        "organisations": _section(orgs, "organisations", (1, 3, 10), rankers, misses),
        "organisations_beyond_city": _section(
            _beyond_city(orgs, texts), "organisations_beyond_city", (1, 3, 10), rankers, None
        ),
    }
    result["ablation"] = {
        section: {
            f"-{group}": _metrics(queries, lambda q, g=group: learned.ranking(q, g), ks, section, f"-{group}", None)
            for group in GROUPS
            if any(f in FEATURES[direction] for f in GROUPS[group])
        }
        for section, queries, direction, ks in (
            ("cities", cities, (_CITY, _CITY), (1, 3)),
            ("organisations", orgs, (_CITY, _ORG), (1, 3, 10)),
        )
        if queries
    }
    if bq.bundle.cohorts:

        def engine_scores(fold: str, sides: dict[str, list[str]]) -> CohortScores:
            models = learned.models(fold)
            ranker = LearnedRanker(models={d: m for d, m in models.items() if d == (_CITY, _CITY)})
            return cohort_scores(bq.recommender.with_ranker(ranker), sides)

        methods: dict[str, Callable[[str, dict[str, list[str]]], CohortScores]] = {
            "engine": engine_scores,
            "handset": lambda fold, sides: cohort_scores(bq.recommender.with_ranker(None), sides),
            "tfidf": lambda fold, sides: _cosine_scores(tfidf_vectors, sides),
            "dense": lambda fold, sides: _cosine_scores(dense_vectors, sides),
        }
        result["cohort_pairing_methods"] = {name: _cohort_pairing(bq, scores) for name, scores in methods.items()}
        result["cohort_pairing"] = result["cohort_pairing_methods"]["engine"]
    return result, misses


def _cosine_scores(vectors: dict[str, np.ndarray], sides: dict[str, list[str]]) -> CohortScores:
    names = list(sides)
    blocks = {
        (sa, sb): np.array([[float(vectors[a] @ vectors[b]) for b in sides[sb]] for a in sides[sa]])
        for i, sa in enumerate(names)
        for sb in names[i + 1 :]
    }
    return CohortScores(sides=sides, blocks=blocks)


def _cohort_pairing(bq: BundleQueries, scored: Callable[[str, dict[str, list[str]]], CohortScores]) -> dict:
    """Known cross-side pairs recovered by the optimal pairing (default options) and by each city's
    top-1, each cohort scored by `scored(fold, sides)`."""
    known = {frozenset((p.a, p.b)) for p in bq.bundle.partnerships}
    texts = bq.texts
    pairs = recovered = top1 = 0
    for cohort in bq.bundle.cohorts:
        sides = {s: [m for m in ms if texts[m].kind == _CITY] for s, ms in cohort.sides.items()}
        side = {m: s for s, ms in sides.items() for m in ms}
        cross = {p for p in known if len(p) == 2 and all(m in side for m in p) and len({side[m] for m in p}) == 2}
        scores = scored(f"{bq.name}#{cohort.name}", sides)
        proposed = {frozenset((p.a, p.b)) for p in optimal_pairing(scores).pairs}
        pairs += len(cross)
        recovered += len(cross & proposed)
        top1 += len(cross & top1_pairs(scores))

    def rate(n: int) -> float:
        return round(n / pairs, 4) if pairs else 0.0

    return {
        "pairs": pairs,
        "recovered": recovered,
        "rate": rate(recovered),
        "top1_recovered": top1,
        "top1_rate": rate(top1),
    }
