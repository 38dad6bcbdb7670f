"""Shortlists: the profiles a profile keeps in view, each with a note; its member's and the managers'."""

from fastapi import APIRouter, Response, status

from service.api.deps import PrincipalDep, ProfileIdPath, SessionDep
from service.domain import shortlists
from service.errors import Conflict, Forbidden, InvalidInput, NotFound, ProfileNotFound, problems
from service.schemas import ShortlistEntryOut, ShortlistNote

router = APIRouter(tags=["shortlists"])


@router.get(
    "/profiles/{profile_id}/shortlist",
    response_model=list[ShortlistEntryOut],
    responses=problems(Forbidden, ProfileNotFound),
)
def list_shortlist(profile_id: ProfileIdPath, session: SessionDep, principal: PrincipalDep) -> list[ShortlistEntryOut]:
    """The profiles on this profile's shortlist, oldest first, with their notes (its member and managers only)."""
    return shortlists.list_shortlist(session=session, principal=principal, profile_id=profile_id)


@router.put(
    "/profiles/{profile_id}/shortlist/{other}",
    response_model=ShortlistEntryOut,
    responses={201: {"description": "saved to the shortlist", "model": ShortlistEntryOut}}
    | problems(Forbidden, ProfileNotFound, InvalidInput, Conflict),
)
def save_to_shortlist(
    profile_id: ProfileIdPath,
    other: ProfileIdPath,
    body: ShortlistNote,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> ShortlistEntryOut:
    """Keep `other` on this profile's shortlist with a note (201), or replace the note of one kept already (200)."""
    entry, created = shortlists.save_to_shortlist(
        session=session, principal=principal, profile_id=profile_id, other=other, note=body.note
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
    return entry


@router.delete(
    "/profiles/{profile_id}/shortlist/{other}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(Forbidden, NotFound),
)
def remove_from_shortlist(
    profile_id: ProfileIdPath, other: ProfileIdPath, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Take `other` off this profile's shortlist."""
    shortlists.remove_from_shortlist(session=session, principal=principal, profile_id=profile_id, other=other)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
