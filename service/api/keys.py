"""API keys, for admins: create one (its secret is in that answer only), list them, revoke one."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from service.api.deps import AdminDep, SessionDep
from service.domain import keys
from service.errors import InvalidInput, problems
from service.schemas import MAX_ROW_ID, KeyCreate, KeyCreated, KeyOut

router = APIRouter(prefix="/keys", tags=["keys"])

KeyIdPath = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="a key id")]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=KeyCreated, responses=problems(InvalidInput))
def create_key(body: KeyCreate, session: SessionDep, principal: AdminDep, response: Response) -> KeyCreated:
    """Create a key. The answer carries its `secret`, which is never shown again: hand it over now."""
    created = keys.create(session=session, body=body)
    response.headers["Location"] = f"/keys/{created.id}"
    return created


@router.get("", response_model=list[KeyOut])
def list_keys(
    session: SessionDep,
    principal: AdminDep,
    revoked: Annotated[bool, Query(description="include revoked keys")] = True,
) -> list[KeyOut]:
    """Every key, oldest first, without secrets."""
    return [keys.key_out(key) for key in keys.list_keys(session=session, include_revoked=revoked)]


@router.get("/{key_id}", response_model=KeyOut, responses=problems(keys.KeyNotFound))
def read_key(key_id: KeyIdPath, session: SessionDep, principal: AdminDep) -> KeyOut:
    return keys.key_out(keys.get_key(session=session, key_id=key_id))


@router.post("/{key_id}/revoke", response_model=KeyOut, responses=problems(keys.KeyNotFound))
def revoke_key(key_id: KeyIdPath, session: SessionDep, principal: AdminDep) -> KeyOut:
    """Revoke a key: from now on every request with it gets 401 and its workspace sessions are gone.
    Revoking a revoked key changes nothing."""
    key = keys.revoke_key(session=session, key=keys.get_key(session=session, key_id=key_id))
    return keys.key_out(key)
