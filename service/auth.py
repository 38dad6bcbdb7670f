"""API keys (stored as SHA-256 hashes) and the role rules: admin, manager, member."""

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.models import ApiKey
from service.errors import Forbidden, InvalidInput, NotAuthenticated

__all__ = ["Role", "Principal", "create_key", "principal_for_secret", "principal_for_key_id", "hash_secret"]


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    MEMBER = "member"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role, and for members the one profile they speak for."""

    key_id: int
    role: Role
    profile_id: str | None
    name: str | None

    @property
    def label(self) -> str:
        return self.name or f"key-{self.key_id}"

    @property
    def is_manager(self) -> bool:
        """Managers and admins decide for the programme: they may settle or undo any pair decision."""
        return self.role in (Role.ADMIN, Role.MANAGER)

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden(f"the {self.role} role may not do this; it needs {' or '.join(roles)}")

    def require_reader_of(self, profile_id: str) -> None:
        """Managers and admins read everything; a member only what concerns its own profile."""
        if self.role == Role.MEMBER and self.profile_id != profile_id:
            raise Forbidden(f"a member key for {self.profile_id!r} may not act on {profile_id!r}")

    def require_writer_of(self, profile_id: str) -> None:
        """Managers and admins write every profile (as a bundle import already lets a manager do);
        a member only its own."""
        if self.role in (Role.ADMIN, Role.MANAGER):
            return
        if self.role == Role.MEMBER and self.profile_id == profile_id:
            return
        raise Forbidden(f"the {self.role} key may not write profile {profile_id!r}")


def hash_secret(secret: str) -> str:
    # keys are 256-bit random tokens, so a fast hash is enough: there is nothing to brute-force
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(
    session: Session, *, role: Role, profile_id: str | None = None, name: str | None = None
) -> tuple[str, ApiKey]:
    """Store a new key and return its secret, which is shown once and never stored."""
    if role == Role.MEMBER and not profile_id:
        raise InvalidInput("a member key must be bound to a profile (--profile ID)")
    if role != Role.MEMBER and profile_id:
        raise InvalidInput("only member keys are bound to a profile")
    secret = "tw_" + secrets.token_urlsafe(32)
    key = ApiKey(key_hash=hash_secret(secret), prefix=secret[:10], role=role.value, profile_id=profile_id, name=name)
    session.add(key)
    session.flush()
    return secret, key


def principal_for_secret(session: Session, secret: str | None) -> Principal:
    """Who sends this secret (an API request's bearer token, a sign-in); a revoked key is refused."""
    if not secret:
        raise NotAuthenticated("send an API key as `Authorization: Bearer <key>`")
    return _principal(session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_secret(secret))))


def principal_for_key_id(session: Session, key_id: int) -> Principal:
    """Who a workspace session speaks for: the key it was opened with, read anew, so revoking it ends the session."""
    return _principal(session.get(ApiKey, key_id, populate_existing=True))


def _principal(key: ApiKey | None) -> Principal:
    if key is None or key.revoked_at is not None:
        raise NotAuthenticated("the API key is not valid")
    return Principal(key_id=key.id, role=Role(key.role), profile_id=key.profile_id, name=key.name)
