"""Dependencies shared by the routes, as annotated aliases so signatures read like sentences."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from service.auth import Principal, Role, principal_for_secret
from service.errors import FieldProblem, InvalidInput, PreconditionRequired
from service.settings import Settings

__all__ = ["SessionDep", "PrincipalDep", "ManagerDep", "AdminDep", "SettingsDep", "IfMatchDep", "get_session"]


def get_session(request: Request) -> Iterator[Session]:
    """A session per request; routes commit explicitly, anything uncommitted is rolled back."""
    session = request.app.state.sessions()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


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


def get_if_match(if_match: Annotated[str | None, Header(description='the profile version you read, e.g. `"3"`')] = None) -> int:
    """The version the caller last read; writes without one could silently overwrite another editor."""
    if if_match is None:
        raise PreconditionRequired("send `If-Match` with the version you read (the ETag of GET /profiles/{id})")
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise InvalidInput("If-Match must be a profile version such as \"3\"", [FieldProblem("/headers/If-Match", "not a version number")])
    return int(value)


IfMatchDep = Annotated[int, Depends(get_if_match)]
