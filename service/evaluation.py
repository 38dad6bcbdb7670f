"""`twinning eval`: recommendation quality on a bundle's known partnerships (../shared/FORMATS.md).

Only the bundle's own text feeds the scores; its partnerships are the answers, never an input.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from embeddings import CachedEncoder
from matching.evaluate import mean_metrics, query_metrics, rank_of_first
from matching.index import CandidateFilter
from matching.pairing import optimal_pairing, top1_pairs
from matching.recommend import Query, Recommender
from matching.scoring import Kind, ScoringParams
from matching.themes import ThemeTagger
from service.recommenders import build_recommender
from service.pairing import cohort_scores
from service.profiles_text import ProfileText
from service.schemas import Bundle

__all__ = ["evaluate_bundle", "Miss"]

Ranker = Callable[[str, list[str], Kind], list[str]]


@dataclass(frozen=True)
class Miss:
    """A query whose true partner was not ranked first, for the readable report."""

    section: str
    method: str
    query: str
    partner: str
    rank: int | None
    above: list[str]


def _engine_ranker(recommender: Recommender, texts: dict[str, ProfileText]) -> Ranker:
    def rank(query_id: str, candidates: list[str], target: Kind) -> list[str]:
        q = texts[query_id]
        others = frozenset(texts) - set(candidates)
        filt = CandidateFilter(kind=target.value, exclude_keys=others | {query_id})
        query = Query(recommender.index.vectors_of(query_id), q.whole_text, q.kind, key=query_id)
        found = recommender.suggest(query, filt, k=len(candidates), explained=False, exact=True)
        return [s.key for s in found]

    return rank


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


def _city_queries(bundle: Bundle, texts: dict[str, ProfileText]) -> list[tuple[str, list[str], set[str]]]:
    partners: dict[str, set[str]] = {}
    for p in bundle.partnerships:
        partners.setdefault(p.a, set()).add(p.b)
        partners.setdefault(p.b, set()).add(p.a)
    queries = []
    for cohort in bundle.cohorts:
        for side, members in cohort.sides.items():
            others = [m for s, ms in cohort.sides.items() if s != side for m in ms if texts[m].kind == Kind.CITY]
            for member in members:
                if texts[member].kind != Kind.CITY:
                    continue
                relevant = partners.get(member, set()) & set(others)
                if relevant:
                    queries.append((member, others, relevant))
    return queries


def _org_queries(bundle: Bundle, texts: dict[str, ProfileText]) -> list[tuple[str, list[str], set[str]]]:
    orgs = sorted(k for k, t in texts.items() if t.kind == Kind.ORGANISATION)
    relevant: dict[str, set[str]] = {}
    for p in bundle.partnerships:
        for a, b in ((p.a, p.b), (p.b, p.a)):
            if texts[a].kind == Kind.CITY and texts[b].kind == Kind.ORGANISATION:
                relevant.setdefault(a, set()).add(b)
    return [(city, orgs, rel) for city, rel in sorted(relevant.items())]


def _section(name, queries, rankers: dict[str, Ranker], target: Kind, ks, misses: list[Miss]) -> dict | None:
    if not queries:
        return None
    methods = {}
    for method, rank in rankers.items():
        per_query = []
        for query_id, candidates, relevant in queries:
            ranking = rank(query_id, candidates, target)
            per_query.append(query_metrics(ranking, relevant, ks=ks))
            first = rank_of_first(ranking, relevant)
            if first != 1:
                best = next((r for r in ranking if r in relevant), sorted(relevant)[0])
                misses.append(Miss(name, method, query_id, best, first, ranking[: (first or len(ranking)) - 1][:5]))
        methods[method] = mean_metrics(per_query)
    return {"queries": len(queries), "methods": methods}


def evaluate_bundle(
    bundle: Bundle, name: str, encoder: CachedEncoder, tagger: ThemeTagger | None, params: ScoringParams = ScoringParams()
) -> tuple[dict, list[Miss]]:
    """The `--json` object of FORMATS.md, and the misses for the readable report."""
    texts = {p.id: ProfileText.from_fields(p.id, p) for p in bundle.profiles}
    recommender = build_recommender(list(texts.values()), encoder, tagger, params)
    rankers = {
        "engine": _engine_ranker(recommender, texts),
        "tfidf": _cosine_ranker(_tfidf_vectors(texts)),
        "dense": _cosine_ranker(_dense_vectors(texts, encoder)),
    }
    misses: list[Miss] = []
    result: dict = {
        "bundle": name,
        "model": encoder.name,
        "cities": _section("cities", _city_queries(bundle, texts), rankers, Kind.CITY, (1, 3), misses),
        "organisations": _section("organisations", _org_queries(bundle, texts), rankers, Kind.ORGANISATION, (1, 3, 10), misses),
    }
    if bundle.cohorts:
        result["cohort_pairing"] = _cohort_pairing(bundle, recommender, texts)
    return result, misses


def _cohort_pairing(bundle: Bundle, recommender: Recommender, texts: dict[str, ProfileText]) -> dict:
    """Known cross-side pairs recovered by the optimal pairing (default options) and by each city's top-1."""
    known = {frozenset((p.a, p.b)) for p in bundle.partnerships}
    pairs = recovered = top1 = 0
    for cohort in bundle.cohorts:
        sides = {s: [m for m in ms if texts[m].kind == Kind.CITY] for s, ms in cohort.sides.items()}
        side = {m: s for s, ms in sides.items() for m in ms}
        cross = {p for p in known if len(p) == 2 and all(m in side for m in p) and len({side[m] for m in p}) == 2}
        scores = cohort_scores(recommender, sides)
        proposed = {frozenset((p.a, p.b)) for p in optimal_pairing(scores).pairs}
        pairs += len(cross)
        recovered += len(cross & proposed)
        top1 += len(cross & top1_pairs(scores))
    rate = lambda n: round(n / pairs, 4) if pairs else 0.0  # noqa: E731
    return {"pairs": pairs, "recovered": recovered, "rate": rate(recovered), "top1_recovered": top1, "top1_rate": rate(top1)}
