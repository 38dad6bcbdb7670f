"""Managers' decisions as training data: partnerships are true partners, rejections are not.

`twinning train --feedback` turns the database's partnerships (accepted suggestions and pairings,
and imported ones: each records who accepted it) and its rejections with a reason into training
queries. Each profile with a partner is a query whose candidate list is what it would be shown
(its live top 20) plus every profile it partnered or rejected; its partners are the true ones.
Pairs of the evaluation bundles are left out, so that the adoption check stays leave-out: a
model retrained with feedback is adopted only when leave-one-cohort-out figures on the real
evaluation bundles do not drop.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from embeddings import CachedEncoder
from matching.evaluate import mean_metrics, query_metrics
from matching.features import direction_of
from matching.ranker import TrainingQuery, ranked
from matching.recommend import Query
from matching.themes import ThemeTagger
from matching.types import CandidateFilter, Kind
from service.db.models import Exclusion, Partnership
from service.learning.training import BundleQueries, fit_models
from service.live.index import SuggestionRequest, candidate_filter
from service.live.places import home_city, partner_cities
from service.live.profiles_text import all_profile_texts
from service.live.recommenders import build_recommender

__all__ = ["feedback_queries", "Verdict", "adopt_or_refuse"]

_SHOWN = 20  # candidates a decision was made among, besides the decided ones


def _pairs(rows, held_out: set[frozenset[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for a, b in rows:
        if frozenset((a, b)) not in held_out:
            out.setdefault(a, set()).add(b)
            out.setdefault(b, set()).add(a)
    return out


def feedback_queries(
    session: Session, encoder: CachedEncoder, tagger: ThemeTagger | None, held_out: set[frozenset[str]] = frozenset()
) -> list[TrainingQuery]:
    """A training query per (profile, target kind) with at least one partner of that kind, never
    from a `held_out` pair (the evaluation bundles' own)."""
    texts = all_profile_texts(session)
    accepted = _pairs(
        session.execute(select(Partnership.a, Partnership.b).where(Partnership.accepted_by.is_not(None))), held_out
    )
    rejected = _pairs(session.execute(select(Exclusion.a, Exclusion.b).where(Exclusion.reason.is_not(None))), held_out)
    everyone = _pairs(session.execute(select(Partnership.a, Partnership.b)), set())
    if not accepted:
        return []
    recommender = build_recommender(list(texts.values()), encoder, tagger)
    out = []
    for key in sorted(accepted):
        text = texts[key]
        for target in (Kind.CITY, Kind.ORGANISATION):
            direction = direction_of(text.kind, target)
            chosen = {o for o in accepted[key] if texts[o].kind == target}
            if direction is None or not chosen:
                continue
            refused = {o for o in rejected.get(key, ()) if texts[o].kind == target}
            cities = partner_cities(everyone.get(home_city(text) or "", ()), texts)
            query = Query(
                recommender.index.vectors_of(key),
                text.whole_text,
                text.kind,
                key=key,
                place=recommender.places[key],
                partners=cities,
            )
            shown = candidate_filter(text, text.bloc, SuggestionRequest(target=target), {key})
            nearest = [s.key for s in recommender.suggest(query, shown, _SHOWN, explained=False)]
            candidates = sorted(set(nearest) | chosen | refused)
            filt = CandidateFilter(kind=target.value, exclude_keys=frozenset(texts) - set(candidates))
            keys, handset, raw = recommender.candidate_table(query, filt)
            out.append(TrainingQuery(direction, "feedback", key, tuple(keys), raw, frozenset(chosen), handset))
    return out


@dataclass(frozen=True)
class Verdict:
    adopted: bool
    summary: str


def _loco_mrr(sets: Sequence[BundleQueries], extra: Sequence[TrainingQuery]) -> dict[str, float]:
    """Leave-one-cohort-out MRR per direction over every evaluation query, training also on `extra`."""
    training = [q for bq in sets for q in bq.queries]
    per_direction: dict[str, list[dict[str, float]]] = {}
    models_of: dict[str, dict] = {}
    for q in training:
        if q.fold not in models_of:
            models_of[q.fold] = fit_models([t for t in training if t.fold != q.fold] + list(extra))
        model = models_of[q.fold].get(q.direction)
        scores = model.scores(q.direction, q.features) if model is not None else q.handset
        name = f"{q.direction[0].value}->{q.direction[1].value}"
        per_direction.setdefault(name, []).append(query_metrics(ranked(q.candidates, scores), set(q.relevant)))
    return {name: mean_metrics(rows)["mrr"] for name, rows in per_direction.items()}


def adopt_or_refuse(sets: Sequence[BundleQueries], extra: Sequence[TrainingQuery]) -> Verdict:
    """Adopt weights retrained with feedback only if no direction's leave-one-cohort-out MRR drops."""
    before, after = _loco_mrr(sets, ()), _loco_mrr(sets, extra)
    worse = [d for d in before if after.get(d, 0.0) < before[d]]
    lines = ", ".join(f"{d} {before[d]:.3f} → {after.get(d, 0.0):.3f}" for d in sorted(before))
    if worse:
        return Verdict(False, f"not adopted: leave-one-cohort-out MRR drops ({lines})")
    return Verdict(True, f"adopted: leave-one-cohort-out MRR {lines}")
