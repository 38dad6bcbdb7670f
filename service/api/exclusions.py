"""Exclusions ("never suggest X to me"), and rejecting a suggestion, which records one."""

from fastapi import APIRouter, Response, status

from service.api.deps import PrincipalDep, ProfileIdPath, SessionDep
from service.domain import exclusions
from service.errors import Conflict, Forbidden, InvalidInput, NotFound, ProfileNotFound, problems
from service.schemas import ExclusionCreate, ExclusionOut, RejectBody

router = APIRouter(tags=["exclusions"])


@router.post(
    "/profiles/{profile_id}/exclusions",
    status_code=status.HTTP_201_CREATED,
    response_model=ExclusionOut,
    responses=problems(Forbidden, ProfileNotFound, Conflict, InvalidInput),
)
def create_exclusion(
    profile_id: ProfileIdPath, body: ExclusionCreate, session: SessionDep, principal: PrincipalDep
) -> ExclusionOut:
    """Never suggest `excluded` to this profile, nor this profile to `excluded`. It records its maker: only
    that side's member or a manager removes it, and the other side never sees its reason. Repeating it
    is harmless."""
    return exclusions.exclude(
        session=session, principal=principal, profile_id=profile_id, other=body.excluded, reason=body.reason
    )


@router.get(
    "/profiles/{profile_id}/exclusions",
    response_model=list[ExclusionOut],
    responses=problems(Forbidden, ProfileNotFound),
)
def list_exclusions(profile_id: ProfileIdPath, session: SessionDep, principal: PrincipalDep) -> list[ExclusionOut]:
    """A profile's exclusions; the reason and key of one the other side made are not shown."""
    return exclusions.list_exclusions(session=session, principal=principal, profile_id=profile_id)


@router.delete(
    "/profiles/{profile_id}/exclusions/{other}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(Forbidden, NotFound, Conflict),
)
def delete_exclusion(
    profile_id: ProfileIdPath, other: ProfileIdPath, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Remove an exclusion: its maker's member or a manager may (403 otherwise)."""
    exclusions.delete_exclusion(session=session, principal=principal, profile_id=profile_id, other=other)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/profiles/{profile_id}/suggestions/{other}/reject",
    status_code=status.HTTP_201_CREATED,
    response_model=ExclusionOut,
    responses=problems(Forbidden, ProfileNotFound, Conflict, InvalidInput),
)
def reject_suggestion(
    profile_id: ProfileIdPath, other: ProfileIdPath, body: RejectBody, session: SessionDep, principal: PrincipalDep
) -> ExclusionOut:
    """Reject a suggestion: it becomes an exclusion this side made (undo with DELETE on the exclusion), and a
    proposal between the two is declined."""
    return exclusions.exclude(
        session=session, principal=principal, profile_id=profile_id, other=other, reason=body.reason
    )
