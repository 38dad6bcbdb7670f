"""Cohort pairing in the service: engine scores for a stored cohort, constraints from the database."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from matching.explain import explain
from matching.pairing import CohortScores, InvalidPairing, Pairing, PairingOptions, optimal_pairing
from matching.recommend import Recommender
from matching.scoring import Kind, direction_roles
from service.errors import FieldProblem, InvalidInput
from service.models import Cohort, Exclusion, Partnership

__all__ = ["cohort_scores", "stored_constraints", "propose", "Proposal"]


@dataclass(frozen=True)
class Proposal:
    cohort: Cohort
    pairing: Pairing
    explanations: dict[tuple[str, str], object]


def cohort_scores(recommender: Recommender, sides: dict[str, list[str]]) -> CohortScores:
    names = list(sides)
    blocks = {}
    for i, sa in enumerate(names):
        for sb in names[i + 1 :]:
            blocks[(sa, sb)] = recommender.pair_scores(list(sides[sa]), list(sides[sb]))
    return CohortScores(sides=sides, blocks=blocks)


def _exclusions_only(session: Session, cohort: Cohort) -> list[tuple[str, str]]:
    members = {m.profile_id for m in cohort.members}
    rows = session.execute(select(Exclusion.a, Exclusion.b).where(Exclusion.a.in_(members), Exclusion.b.in_(members)))
    return [(a, b) for a, b in rows]


def stored_constraints(session: Session, cohort: Cohort) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Pairs accepted for this cohort are kept (locked); exclusions and other, past partnerships are forbidden."""
    members = {m.profile_id for m in cohort.members}
    locked, forbidden = [], _exclusions_only(session, cohort)
    for p in session.scalars(select(Partnership).where(Partnership.a.in_(members), Partnership.b.in_(members))):
        (locked if p.programme == cohort.name else forbidden).append((p.a, p.b))
    return locked, forbidden


def propose(
    session: Session,
    recommender: Recommender,
    cohort: Cohort,
    *,
    capacity: dict[str, int],
    lock: list[tuple[str, str]],
    forbid: list[tuple[str, str]],
    min_score: float,
    use_partnerships: bool = True,
) -> Proposal:
    """The optimal pairing of a stored cohort, every pair explained as a suggestion is."""
    sides = cohort.sides()
    members = {m for ms in sides.values() for m in ms}
    missing = sorted(m for m in members if m not in recommender.index)
    if missing:
        raise InvalidInput(f"cohort members not in the index: {', '.join(missing)}")
    for name, pairs in (("lock", lock), ("forbid", forbid)):
        for i, (a, b) in enumerate(pairs):
            for j, city in enumerate((a, b)):
                if city not in members:
                    raise InvalidInput(f"{city!r} is not in cohort {cohort.id!r}", [FieldProblem(f"/{name}/{i}/{j}", "not a member")])
    for city in capacity:
        if city not in members:
            raise InvalidInput(f"{city!r} is not in cohort {cohort.id!r}", [FieldProblem(f"/capacity/{city}", "not a member")])
    stored_locked, stored_forbidden = stored_constraints(session, cohort)
    if not use_partnerships:
        stored_locked, stored_forbidden = [], _exclusions_only(session, cohort)
    options = PairingOptions(capacity=capacity, locked=_unique(stored_locked + lock), forbidden=stored_forbidden + forbid, min_score=min_score)
    try:
        pairing = optimal_pairing(cohort_scores(recommender, sides), options)
    except InvalidPairing as exc:
        raise InvalidInput(str(exc)) from None
    roles = direction_roles(Kind.CITY, Kind.CITY)
    explanations = {
        (p.a, p.b): explain(recommender.index.vectors_of(p.a), recommender.index.vectors_of(p.b), roles, recommender.params, recommender.tagger)
        for p in pairing.pairs
    }
    return Proposal(cohort=cohort, pairing=pairing, explanations=explanations)


def _unique(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen, out = set(), []
    for a, b in pairs:
        if frozenset((a, b)) not in seen:
            seen.add(frozenset((a, b)))
            out.append((a, b))
    return out
