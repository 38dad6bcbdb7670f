"""Cohorts, and pairing a whole cohort at once: propose the optimal pairing, accept it."""

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import select

from service import store
from service.api.deps import ManagerDep, PrincipalDep, SessionDep
from service.api.suggestions import theme_list
from service.errors import FieldProblem, InvalidInput
from service.models import Cohort
from service.pairing import propose
from service.schemas import (
    AcceptOut,
    AcceptRequest,
    CandidateOut,
    CohortBody,
    CohortIn,
    CohortOut,
    PairingOut,
    PairingRequest,
    PairOut,
    PartnershipIn,
    PhraseMatchOut,
    RegretOut,
    UnpairedOut,
)

router = APIRouter(prefix="/cohorts", tags=["cohorts"])


def _out(c: Cohort) -> CohortOut:
    return CohortOut(id=c.id, name=c.name, sides=c.sides())


@router.get("", response_model=list[CohortOut])
def list_cohorts(session: SessionDep, principal: PrincipalDep) -> list[CohortOut]:
    return [_out(c) for c in session.scalars(select(Cohort).order_by(Cohort.id))]


@router.get("/{cohort_id}", response_model=CohortOut)
def read_cohort(cohort_id: str, session: SessionDep, principal: PrincipalDep) -> CohortOut:
    return _out(store.get_cohort(session, cohort_id))


@router.put("/{cohort_id}", response_model=CohortOut)
def put_cohort(cohort_id: str, body: CohortBody, session: SessionDep, principal: ManagerDep) -> CohortOut:
    members = [(side, i, m) for side, ms in body.sides.items() for i, m in enumerate(ms)]
    known = {p.id for p in store.profiles_by_ids(session, [m for _, _, m in members])}
    problems = [FieldProblem(f"/sides/{side}/{i}", f"no profile {m!r}") for side, i, m in members if m not in known]
    if problems:
        raise InvalidInput("the cohort names profiles that do not exist; nothing was stored", problems)
    cohort = store.upsert_cohort(session, CohortIn(id=cohort_id, name=body.name, sides=body.sides))
    session.commit()
    return _out(cohort)


@router.delete("/{cohort_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_cohort(cohort_id: str, session: SessionDep, principal: ManagerDep) -> Response:
    session.delete(store.get_cohort(session, cohort_id))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def pairing_out(request: Request, session, cohort: Cohort, body: PairingRequest) -> PairingOut:
    """The proposal as the API and the workspace show it."""
    live = request.app.state.live
    recommender = live.recommender_ready()
    with live.lock:
        proposal = propose(
            session,
            recommender,
            cohort,
            capacity=dict(body.capacity),
            lock=[tuple(p) for p in body.lock],
            forbid=[tuple(p) for p in body.forbid],
            min_score=body.min_score,
            use_partnerships=body.partnerships == "auto",
        )
    name = lambda key: live.profile_text(key).name  # noqa: E731
    pairs = []
    for p in proposal.pairing.pairs:
        why = proposal.explanations[(p.a, p.b)]
        pairs.append(
            PairOut(
                a=p.a, b=p.b, a_name=name(p.a), b_name=name(p.b), score=p.score, locked=p.locked,
                matches=[PhraseMatchOut(**m.__dict__) for m in why.matches], shared_themes=theme_list(live, why.shared_themes),
            )
        )
    unpaired = [
        UnpairedOut(id=c, best_options=[CandidateOut(id=o, score=s) for o, s in proposal.pairing.options.get(c, [])])
        for c in proposal.pairing.unpaired
    ]
    regrets = [RegretOut(**r.__dict__) for r in proposal.pairing.regrets]
    return PairingOut(cohort=cohort.id, total=proposal.pairing.total, pairs=pairs, unpaired=unpaired, regrets=regrets)


@router.post("/{cohort_id}/pairing", response_model=PairingOut)
def pairing(cohort_id: str, body: PairingRequest, request: Request, session: SessionDep, principal: ManagerDep) -> PairingOut:
    """Propose the pairing with the highest total score; pairs accepted earlier for this cohort stay locked."""
    return pairing_out(request, session, store.get_cohort(session, cohort_id), body)


@router.post("/{cohort_id}/pairing/accept", response_model=AcceptOut)
def accept(cohort_id: str, body: AcceptRequest, session: SessionDep, principal: ManagerDep) -> AcceptOut:
    """Store the chosen pairs as partnerships of this cohort's programme; accepting twice changes nothing."""
    cohort = store.get_cohort(session, cohort_id)
    side = {m.profile_id: m.side for m in cohort.members}
    problems = []
    for i, (a, b) in enumerate(body.pairs):
        for j, city in enumerate((a, b)):
            if city not in side:
                problems.append(FieldProblem(f"/pairs/{i}/{j}", f"{city!r} is not in the cohort"))
        if a in side and b in side and side[a] == side[b]:
            problems.append(FieldProblem(f"/pairs/{i}", f"both on side {side[a]!r}; pairs cross sides"))
    if problems:
        raise InvalidInput("some pairs are not pairs of this cohort; nothing was stored", problems)
    existing = store.partner_pairs(session)
    created = 0
    for a, b in body.pairs:
        if frozenset((a, b)) not in existing:
            created += 1
        store.upsert_partnership(session, PartnershipIn(a=a, b=b, programme=cohort.name), accepted_by=principal.label)
    session.commit()
    return AcceptOut(cohort=cohort.id, accepted=len(body.pairs), created=created, accepted_by=principal.label)
