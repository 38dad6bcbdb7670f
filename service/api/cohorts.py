"""Cohorts, and pairing a whole cohort at once: propose the optimal pairing, accept it."""

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import select

from service.db import store
from service.api.deps import CohortIdPath, ManagerDep, PrincipalDep, SessionDep
from service.errors import FieldProblem, InvalidInput
from service.db.models import Cohort
from service.domain.pairing import accept_pairs, pairing_view
from service.schemas import AcceptOut, AcceptRequest, CohortBody, CohortIn, CohortOut, PairingOut, PairingRequest

router = APIRouter(prefix="/cohorts", tags=["cohorts"])


def _out(c: Cohort) -> CohortOut:
    return CohortOut(id=c.id, name=c.name, sides=c.sides())


@router.get("", response_model=list[CohortOut])
def list_cohorts(session: SessionDep, principal: PrincipalDep) -> list[CohortOut]:
    return [_out(c) for c in session.scalars(select(Cohort).order_by(Cohort.id))]


@router.get("/{cohort_id}", response_model=CohortOut)
def read_cohort(cohort_id: CohortIdPath, session: SessionDep, principal: PrincipalDep) -> CohortOut:
    return _out(store.get_cohort(session, cohort_id))


@router.put("/{cohort_id}", response_model=CohortOut)
def put_cohort(cohort_id: CohortIdPath, body: CohortBody, session: SessionDep, principal: ManagerDep) -> CohortOut:
    members = [(side, i, m) for side, ms in body.sides.items() for i, m in enumerate(ms)]
    known = {p.id for p in store.profiles_by_ids(session, [m for _, _, m in members])}
    problems = [FieldProblem(f"/sides/{side}/{i}", f"no profile {m!r}") for side, i, m in members if m not in known]
    if problems:
        raise InvalidInput("the cohort names profiles that do not exist; nothing was stored", problems)
    cohort = store.upsert_cohort(session, CohortIn(id=cohort_id, name=body.name, sides=body.sides))
    session.commit()
    return _out(cohort)


@router.delete("/{cohort_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_cohort(cohort_id: CohortIdPath, session: SessionDep, principal: ManagerDep) -> Response:
    session.delete(store.get_cohort(session, cohort_id))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{cohort_id}/pairing", response_model=PairingOut)
def pairing(cohort_id: CohortIdPath, body: PairingRequest, request: Request, session: SessionDep, principal: ManagerDep) -> PairingOut:
    """Propose the pairing with the highest total score; pairs accepted earlier for this cohort stay locked."""
    return pairing_view(session, request.app.state.live, store.get_cohort(session, cohort_id), body)


@router.post("/{cohort_id}/pairing/accept", response_model=AcceptOut)
def accept(cohort_id: CohortIdPath, body: AcceptRequest, session: SessionDep, principal: ManagerDep) -> AcceptOut:
    """Store the chosen pairs as partnerships of this cohort's programme; accepting twice changes nothing."""
    return accept_pairs(session, store.get_cohort(session, cohort_id), [tuple(p) for p in body.pairs], principal.label)
