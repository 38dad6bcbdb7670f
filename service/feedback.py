"""Managers' decisions as training data: accepted suggestions are true partners, rejections are not.

`twinning train --feedback` turns them into training queries. Each profile with an accepted or
rejected suggestion is a query whose candidate list is what it would be shown (its live top 20)
plus every profile it accepted or rejected; accepted ones are the true partners. Feedback is only
as good as the decisions, so a model retrained with it is adopted only when leave-one-cohort-out
figures on the real evaluation bundles do not drop.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from embeddings import CachedEncoder
from matching.evaluate import mean_metrics, query_metrics
from matching.features import direction_of
from matching.index import CandidateFilter
from matching.ranker import TrainingQuery, ranked
from matching.recommend import Query
from matching.scoring import Kind
from matching.themes import ThemeTagger
from service.engine import SuggestionRequest, candidate_filter
from service.models import Exclusion, Partnership
from service.profiles_text import all_profile_texts
from service.recommenders import build_recommender
from service.training import BundleQueries, fit_models

__all__ = ["feedback_queries", "Verdict", "adopt_or_refuse"]

_SHOWN = 20  # candidates a decision was made among, besides the decided ones


def feedback_queries(session: Session, encoder: CachedEncoder, tagger: ThemeTagger | None) -> list[TrainingQuery]:
    """A training query per (profile, target kind) with at least one accepted suggestion."""
    texts = all_profile_texts(session)
    accepted: dict[str, set[str]] = {}
    for a, b in session.execute(select(Partnership.a, Partnership.b).where(Partnership.accepted_by.is_not(None))):
        accepted.setdefault(a, set()).add(b)
        accepted.setdefault(b, set()).add(a)
    rejected: dict[str, set[str]] = {}
    for a, b in session.execute(select(Exclusion.a, Exclusion.b).where(Exclusion.reason.is_not(None))):
        rejected.setdefault(a, set()).add(b)
        rejected.setdefault(b, set()).add(a)
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
            query = Query(recommender.index.vectors_of(key), text.whole_text, text.kind, key=key, place=recommender.places[key])
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
