"""Cohorts, and pairing a whole cohort at once: propose the optimal pairing, accept it."""

from fastapi import APIRouter, Response, status

from service.api.deps import CohortIdPath, LiveDep, ManagerDep, PrincipalDep, SessionDep
from service.domain import cohorts
from service.domain import pairing as cohort_pairing
from service.errors import Conflict, InvalidInput, NotFound, problems
from service.schemas import AcceptOut, AcceptRequest, CohortBody, CohortOut, PairingOut, PairingRequest

router = APIRouter(prefix="/cohorts", tags=["cohorts"])


@router.get("", response_model=list[CohortOut])
def list_cohorts(session: SessionDep, principal: PrincipalDep) -> list[CohortOut]:
    return [cohorts.cohort_out(c) for c in cohorts.list_cohorts(session=session)]


@router.get("/{cohort_id}", response_model=CohortOut, responses=problems(NotFound))
def read_cohort(cohort_id: CohortIdPath, session: SessionDep, principal: PrincipalDep) -> CohortOut:
    return cohorts.cohort_out(cohorts.get_cohort(session=session, cohort_id=cohort_id))


@router.put("/{cohort_id}", response_model=CohortOut, responses=problems(InvalidInput))
def put_cohort(cohort_id: CohortIdPath, body: CohortBody, session: SessionDep, principal: ManagerDep) -> CohortOut:
    return cohorts.cohort_out(cohorts.save_cohort(session=session, cohort_id=cohort_id, body=body))


@router.delete("/{cohort_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problems(NotFound))
def delete_cohort(cohort_id: CohortIdPath, session: SessionDep, principal: ManagerDep) -> Response:
    cohorts.delete_cohort(session=session, cohort_id=cohort_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{cohort_id}/pairing", response_model=PairingOut, responses=problems(NotFound, InvalidInput))
def pairing(
    cohort_id: CohortIdPath, body: PairingRequest, session: SessionDep, live: LiveDep, principal: ManagerDep
) -> PairingOut:
    """Propose the pairing with the highest total score; pairs accepted earlier for this cohort stay locked."""
    return cohort_pairing.pairing_view(
        session=session, live=live, cohort=cohorts.get_cohort(session=session, cohort_id=cohort_id), options=body
    )


@router.post(
    "/{cohort_id}/pairing/accept", response_model=AcceptOut, responses=problems(NotFound, InvalidInput, Conflict)
)
def accept(cohort_id: CohortIdPath, body: AcceptRequest, session: SessionDep, principal: ManagerDep) -> AcceptOut:
    """Store the chosen pairs as partnerships of this cohort and its programme; accepting twice changes
    nothing. Pairs giving a city a second partner city in the programme are a 409 unless
    `allow_second_partner` is true."""
    cohort = cohorts.get_cohort(session=session, cohort_id=cohort_id)
    return cohort_pairing.accept_pairs(
        session=session,
        cohort=cohort,
        pairs=[tuple(p) for p in body.pairs],
        accepted_by=principal.label,
        allow_second_partner=body.allow_second_partner,
    )
