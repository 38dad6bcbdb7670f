"""Profiles: submit, list, read, replace, patch and delete, with optimistic concurrency."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import ValidationError

from service.db import store
from service.api.deps import IfMatchDep, PrincipalDep, ProfileIdPath, ProfileWriterDep, SessionDep, SettingsDep
from service.auth import Role
from service.errors import FieldProblem, InvalidInput, validation_problems
from service.schemas import ID_PATTERN, ProfileCreate, ProfileFields, ProfileOut, ProfilePage, ProfilePatch, ProfileReplace, QueryText

router = APIRouter(prefix="/profiles", tags=["profiles"])


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProfileOut)
def create_profile(body: ProfileCreate, session: SessionDep, principal: PrincipalDep, request: Request, response: Response) -> ProfileOut:
    if principal.role != Role.ADMIN:
        principal.require_writer_of(body.id)
    profile = store.create_profile(session, body)
    session.commit()
    request.app.state.live.profiles_changed([profile.id])
    _etag(response, profile.version)
    response.headers["Location"] = f"/profiles/{profile.id}"
    return store.profile_out(profile)


@router.get("", response_model=ProfilePage)
def list_profiles(
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    kind: Annotated[str | None, Query(pattern="^(city|organisation)$")] = None,
    bloc: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,32}$")] = None,
    country: Annotated[str | None, Query(pattern="^[A-Za-z]{2}$")] = None,
    org_type: Annotated[str | None, Query(pattern="^(company|university|research_centre|public_agency|ngo|network|other)$")] = None,
    q: Annotated[QueryText | None, Query(description="text search in name, description and phrases")] = None,
    cursor: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> ProfilePage:
    limit = min(limit or settings.page_size, settings.max_page_size)
    rows, next_cursor, total = store.list_profiles(
        session, kind=kind, bloc=bloc, country=country, org_type=org_type, q=q, cursor=cursor, limit=limit
    )
    return ProfilePage(items=[store.profile_out(p) for p in rows], next_cursor=next_cursor, total=total)


@router.get("/{profile_id}", response_model=ProfileOut)
def read_profile(profile_id: ProfileIdPath, session: SessionDep, principal: PrincipalDep, response: Response) -> ProfileOut:
    profile = store.get_profile(session, profile_id)
    _etag(response, profile.version)
    return store.profile_out(profile)


@router.put("/{profile_id}", response_model=ProfileOut)
def replace_profile(
    profile_id: ProfileIdPath, body: ProfileReplace, if_match: IfMatchDep, session: SessionDep, principal: ProfileWriterDep, request: Request, response: Response
) -> ProfileOut:
    if body.id is not None and body.id != profile_id:
        raise InvalidInput("the id in the body differs from the one in the path", [FieldProblem("/id", f"must be {profile_id!r}")])
    profile = store.replace_profile(session, profile_id, ProfileFields.model_validate(body.model_dump(exclude={"id"})), if_match)
    session.commit()
    request.app.state.live.profiles_changed([profile_id])
    _etag(response, profile.version)
    return store.profile_out(profile)


@router.patch("/{profile_id}", response_model=ProfileOut)
def patch_profile(
    profile_id: ProfileIdPath, body: ProfilePatch, if_match: IfMatchDep, session: SessionDep, principal: ProfileWriterDep, request: Request, response: Response
) -> ProfileOut:
    current = store.profile_out(store.get_profile(session, profile_id)).model_dump(exclude={"id", "version", "created_at", "updated_at"})
    merged = current | body.model_dump(exclude_unset=True)
    # the merged profile must satisfy every rule a whole profile does (a city keeps an interest, …)
    try:
        fields = ProfileFields.model_validate(merged)
    except ValidationError as exc:
        raise InvalidInput("the patched profile breaks a rule; nothing was changed", validation_problems(exc.errors())) from None
    profile = store.replace_profile(session, profile_id, fields, if_match)
    session.commit()
    request.app.state.live.profiles_changed([profile_id])
    _etag(response, profile.version)
    return store.profile_out(profile)


@router.delete("/{profile_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_profile(profile_id: ProfileIdPath, if_match: IfMatchDep, session: SessionDep, principal: ProfileWriterDep, request: Request) -> Response:
    store.delete_profile(session, profile_id, if_match)
    session.commit()
    request.app.state.live.profiles_removed([profile_id])
    return Response(status_code=status.HTTP_204_NO_CONTENT)
