"""Exclusions ("never suggest X to me"), and rejecting a suggestion, which records one."""

from fastapi import APIRouter, Response, status

from service.db import store
from service.api.deps import PrincipalDep, ProfileIdPath, SessionDep
from service.db.models import Exclusion
from service.schemas import ExclusionCreate, ExclusionOut, RejectBody
from service.domain.suggestions import exclude

router = APIRouter(tags=["exclusions"])


def _out(profile_id: str, e: Exclusion) -> ExclusionOut:
    other = e.b if e.a == profile_id else e.a
    return ExclusionOut(profile=profile_id, excluded=other, reason=e.reason, created_by=e.created_by, created_at=e.created_at)


@router.post("/profiles/{profile_id}/exclusions", status_code=status.HTTP_201_CREATED, response_model=ExclusionOut)
def create_exclusion(profile_id: ProfileIdPath, body: ExclusionCreate, session: SessionDep, principal: PrincipalDep) -> ExclusionOut:
    """Never suggest `excluded` to this profile, nor this profile to `excluded`; repeating it is harmless."""
    return exclude(session, principal, profile_id, body.excluded, body.reason)


@router.get("/profiles/{profile_id}/exclusions", response_model=list[ExclusionOut])
def list_exclusions(profile_id: ProfileIdPath, session: SessionDep, principal: PrincipalDep) -> list[ExclusionOut]:
    principal.require_reader_of(profile_id)
    store.get_profile(session, profile_id)
    return [_out(profile_id, e) for e in store.list_exclusions(session, profile_id)]


@router.delete("/profiles/{profile_id}/exclusions/{other}", status_code=status.HTTP_204_NO_CONTENT)
def delete_exclusion(profile_id: ProfileIdPath, other: ProfileIdPath, session: SessionDep, principal: PrincipalDep) -> Response:
    principal.require_reader_of(profile_id)
    store.delete_exclusion(session, profile_id, other)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/profiles/{profile_id}/suggestions/{other}/reject", status_code=status.HTTP_201_CREATED, response_model=ExclusionOut)
def reject_suggestion(profile_id: ProfileIdPath, other: ProfileIdPath, body: RejectBody, session: SessionDep, principal: PrincipalDep) -> ExclusionOut:
    """Reject a suggestion: it becomes an exclusion (undo with DELETE on the exclusion)."""
    return exclude(session, principal, profile_id, other, body.reason)
