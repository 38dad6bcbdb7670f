"""Dependencies shared by the routes, as annotated aliases so signatures read like sentences."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from sqlalchemy.orm import Session

from service.auth import Principal, Role, principal_for_secret
from service.domain.profiles import get_profile
from service.errors import (
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    PreconditionRequired,
    ProfileNotFound,
    TwinningError,
    VersionConflict,
)
from service.live.index import LiveIndex
from service.schemas import ID_PATTERN, MAX_ROW_ID, row_number
from service.settings import Settings

__all__ = [
    "DEPENDENCY_PROBLEMS",
    "AdminDep",
    "CohortIdPath",
    "IfMatchDep",
    "LiveDep",
    "ManagerDep",
    "PrincipalDep",
    "ProfileIdPath",
    "ProfileWriterDep",
    "RunIdPath",
    "SessionDep",
    "SettingsDep",
    "get_session",
]

# Ids in paths are checked before anything reads them, so a database never sees a NUL or a number
# wider than its column (32 bits on PostgreSQL, 64 on SQLite).
ProfileIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="a profile id")]
CohortIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="a cohort id")]
RunIdPath = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="a run id")]


def get_session(request: Request) -> Iterator[Session]:
    """A session per request; routes commit explicitly, anything uncommitted is rolled back."""
    session = request.app.state.sessions()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def get_request_settings(request: Request) -> Settings:
    """The settings the app was built with (tests build apps with settings of their own)."""
    return request.app.state.settings


def get_live(request: Request) -> LiveIndex:
    return request.app.state.live


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_request_settings)]
LiveDep = Annotated[LiveIndex, Depends(get_live)]


def get_principal(request: Request, session: SessionDep) -> Principal:
    # the web pages authenticate through their session cookie; the API through a bearer token
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    principal = principal_for_secret(session, token.strip() if scheme.lower() == "bearer" else None)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_manager(principal: PrincipalDep) -> Principal:
    principal.require(Role.ADMIN, Role.MANAGER)
    return principal


def get_admin(principal: PrincipalDep) -> Principal:
    principal.require(Role.ADMIN)
    return principal


ManagerDep = Annotated[Principal, Depends(get_manager)]
AdminDep = Annotated[Principal, Depends(get_admin)]


def get_profile_writer(profile_id: ProfileIdPath, principal: PrincipalDep) -> Principal:
    """The caller, if it may write the profile in the path."""
    principal.require_writer_of(profile_id)
    return principal


ProfileWriterDep = Annotated[Principal, Depends(get_profile_writer)]


def get_if_match(
    profile_id: ProfileIdPath,
    writer: ProfileWriterDep,
    session: SessionDep,
    if_match: Annotated[str | None, Header(description='the profile version you read, e.g. `"3"`')] = None,
) -> int:
    """The version the caller last read; writes without one could silently overwrite another editor.

    Preconditions come after authorisation and existence (RFC 9110, 13.2.1): a key that may not
    write the profile learns 403, a missing profile 404, and only then does a missing If-Match
    answer 428.
    """
    if if_match is None:
        get_profile(session=session, profile_id=profile_id)
        raise PreconditionRequired("send `If-Match` with the version you read (the ETag of GET /profiles/{id})")
    version = row_number(if_match.strip().removeprefix("W/").strip('"'))
    if version is None:
        raise InvalidInput(
            'If-Match must be a profile version such as "3"',
            [FieldProblem("/headers/If-Match", "not a version number")],
        )
    return version


IfMatchDep = Annotated[int, Depends(get_if_match)]


# what each dependency answers on its own, whichever route uses it: the OpenAPI document lists them
# (service.api.openapi), and get_if_match's If-Match is documented as required, since without it the
# answer is 428; a stale one is 412, when the write compares versions
DEPENDENCY_PROBLEMS: dict[object, tuple[type[TwinningError], ...]] = {
    get_principal: (NotAuthenticated,),
    get_manager: (Forbidden,),
    get_admin: (Forbidden,),
    get_profile_writer: (Forbidden,),
    get_if_match: (ProfileNotFound, InvalidInput, VersionConflict, PreconditionRequired),
}
