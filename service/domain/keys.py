"""API keys as an admin manages them (CLI and API alike): create, list, find, revoke.

A key's secret is shown once, when it is created; afterwards a key is known by its id and by its
prefix (the secret's first characters). Revoking keeps the row (decisions name its label) and
ends the key everywhere at once: every API request and every workspace page reads the key's row,
and the workspace sessions it opened are deleted.
"""

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.auth import Role, create_key, hash_secret
from service.db.models import ApiKey, WorkspaceSession, utcnow
from service.errors import InvalidInput, NotFound
from service.schemas import KeyCreate, KeyCreated, KeyOut, row_number

__all__ = ["KeyNotFound", "key_out", "create", "list_keys", "get_key", "find_key", "revoke_key"]

# a prefix shorter than this (after `tw_`) would name too many keys to be a safe thing to revoke by
MIN_PREFIX = 4


class KeyNotFound(NotFound):
    title = "Key not found"


def key_out(key: ApiKey) -> KeyOut:
    return KeyOut(
        id=key.id,
        role=key.role,
        name=key.name,
        label=key.name or f"key-{key.id}",
        profile_id=key.profile_id,
        prefix=key.prefix,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


def create(*, session: Session, body: KeyCreate) -> KeyCreated:
    """Store a new key and return it with its secret, which this answer alone carries."""
    secret, key = create_key(session, role=Role(body.role), profile_id=body.profile_id, name=body.name)
    session.commit()
    return KeyCreated(**key_out(key).model_dump(), secret=secret)


def list_keys(*, session: Session, include_revoked: bool = True) -> list[ApiKey]:
    """Every key, oldest first."""
    query = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(query))


def get_key(*, session: Session, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise KeyNotFound(f"no key has id {key_id}")
    return key


def find_key(*, session: Session, reference: str) -> ApiKey:
    """The key an operator names: by id (`7`), by prefix (`tw_Ab3d`, at least 4 characters after `tw_`),
    or by the whole secret."""
    reference = reference.strip()
    key_id = row_number(reference)
    if key_id is not None:
        return get_key(session=session, key_id=key_id)
    by_secret = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_secret(reference)))
    if by_secret is not None:
        return by_secret
    if not reference.startswith("tw_") or len(reference) < len("tw_") + MIN_PREFIX:
        raise InvalidInput(f"name a key by its id or by its prefix (tw_ and at least {MIN_PREFIX} characters)")
    # the prefix as listed, its start, or more of the secret than the prefix
    matches = [
        key
        for key in list_keys(session=session)
        if key.prefix.startswith(reference) or reference.startswith(key.prefix)
    ]
    if not matches:
        raise KeyNotFound(f"no key has the prefix {reference!r}")
    if len(matches) > 1:
        ids = ", ".join(str(key.id) for key in matches)
        raise InvalidInput(f"the prefix {reference!r} names several keys (ids {ids}); name one by its id")
    return matches[0]


def revoke_key(*, session: Session, key: ApiKey) -> ApiKey:
    """Revoke a key, at once and for good, and end its workspace sessions; revoking it again changes nothing."""
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    session.execute(delete(WorkspaceSession).where(WorkspaceSession.key_id == key.id))
    session.commit()
    return key
