"""Profiles: submit, list, read, replace, patch and delete, with optimistic concurrency."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from service.api.deps import IfMatchDep, LiveDep, PrincipalDep, ProfileIdPath, ProfileWriterDep, SessionDep, SettingsDep
from service.domain import profiles
from service.errors import AlreadyExists, FieldProblem, Forbidden, InvalidInput, ProfileNotFound, problems
from service.schemas import (
    ID_PATTERN,
    Bloc,
    CountryFilter,
    Kind,
    OrgType,
    ProfileCreate,
    ProfileDeleted,
    ProfileFields,
    ProfileOut,
    ProfilePage,
    ProfilePatch,
    ProfileReplace,
    QueryText,
)

router = APIRouter(prefix="/profiles", tags=["profiles"])


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=ProfileOut, responses=problems(Forbidden, AlreadyExists)
)
def create_profile(
    body: ProfileCreate, session: SessionDep, live: LiveDep, principal: PrincipalDep, response: Response
) -> ProfileOut:
    profile = profiles.create_profile(session=session, live=live, principal=principal, data=body)
    _etag(response, profile.version)
    response.headers["Location"] = f"/profiles/{profile.id}"
    return profiles.profile_out(profile)


@router.get("", response_model=ProfilePage)
def list_profiles(
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    kind: Annotated[Kind | None, Query()] = None,
    bloc: Annotated[Bloc | None, Query(description="only this bloc, in either case")] = None,
    country: Annotated[
        CountryFilter | None, Query(description="only this country (ISO 3166-1 alpha-2, either case)")
    ] = None,
    org_type: Annotated[OrgType | None, Query()] = None,
    q: Annotated[
        QueryText | None,
        Query(
            description="full-text search in name, description, interests and offers: every word must start a word "
            "there, in any case and with or without accents; two words written as one find them apart and the "
            "other way round (`street lights` finds `streetlights`). Matches are listed by id, as without it."
        ),
    ] = None,
    cursor: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> ProfilePage:
    limit = min(limit or settings.page_size, settings.max_page_size)
    rows, next_cursor, total = profiles.list_profiles(
        session=session, kind=kind, bloc=bloc, country=country, org_type=org_type, q=q, cursor=cursor, limit=limit
    )
    return ProfilePage(items=[profiles.profile_out(p) for p in rows], next_cursor=next_cursor, total=total)


@router.get("/{profile_id}", response_model=ProfileOut, responses=problems(ProfileNotFound))
def read_profile(
    profile_id: ProfileIdPath, session: SessionDep, principal: PrincipalDep, response: Response
) -> ProfileOut:
    profile = profiles.get_profile(session=session, profile_id=profile_id)
    _etag(response, profile.version)
    return profiles.profile_out(profile)


@router.put("/{profile_id}", response_model=ProfileOut, responses=problems(InvalidInput))
def replace_profile(
    profile_id: ProfileIdPath,
    body: ProfileReplace,
    if_match: IfMatchDep,
    session: SessionDep,
    live: LiveDep,
    principal: ProfileWriterDep,
    response: Response,
) -> ProfileOut:
    if body.id is not None and body.id != profile_id:
        raise InvalidInput(
            "the id in the body differs from the one in the path", [FieldProblem("/id", f"must be {profile_id!r}")]
        )
    data = ProfileFields.model_validate(body.model_dump(exclude={"id"}))
    profile = profiles.replace_profile(
        session=session, live=live, principal=principal, profile_id=profile_id, data=data, version=if_match
    )
    _etag(response, profile.version)
    return profiles.profile_out(profile)


@router.patch("/{profile_id}", response_model=ProfileOut)
def patch_profile(
    profile_id: ProfileIdPath,
    body: ProfilePatch,
    if_match: IfMatchDep,
    session: SessionDep,
    live: LiveDep,
    principal: ProfileWriterDep,
    response: Response,
) -> ProfileOut:
    profile = profiles.patch_profile(
        session=session, live=live, principal=principal, profile_id=profile_id, body=body, version=if_match
    )
    _etag(response, profile.version)
    return profiles.profile_out(profile)


@router.delete(
    "/{profile_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        200: {"model": ProfileDeleted, "description": "deleted with `cascade=true`: what went with it"},
        409: {"description": "others refer to it (`references` lists them); a manager may delete with cascade=true"},
    },
)
def delete_profile(
    profile_id: ProfileIdPath,
    if_match: IfMatchDep,
    session: SessionDep,
    live: LiveDep,
    principal: ProfileWriterDep,
    cascade: Annotated[
        bool,
        Query(
            description="delete it together with its partnerships, proposals, exclusions, cohort memberships "
            "and organisations' links to it (managers and admins; a member gets 403)"
        ),
    ] = False,
) -> Response:
    """Delete a profile; one that others refer to answers 409 unless a manager deletes it with them."""
    deleted = profiles.delete_profile(
        session=session, live=live, principal=principal, profile_id=profile_id, version=if_match, cascade=cascade
    )
    if cascade:
        return JSONResponse(deleted.model_dump(mode="json"))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
