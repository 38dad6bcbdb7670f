"""Exclusions ("never suggest X to me", in both directions): record one (also what rejecting a suggestion does),
list and undo them."""

from sqlalchemy.orm import Session

from service.auth import Principal
from service.db import store
from service.db.models import Exclusion
from service.errors import FieldProblem, InvalidInput
from service.schemas import ExclusionIn, ExclusionOut

__all__ = ["exclusion_out", "exclude", "list_exclusions", "delete_exclusion"]


def exclusion_out(profile_id: str, row: Exclusion) -> ExclusionOut:
    """An exclusion as `profile_id` sees it: the other side is the one excluded."""
    return ExclusionOut(
        profile=profile_id,
        excluded=row.other_than(profile_id),
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def exclude(*, session: Session, principal: Principal, profile_id: str, other: str, reason: str | None) -> ExclusionOut:
    """Never suggest `other` to this profile or it to `other`; repeating it is harmless (a new reason replaces it)."""
    principal.require_reader_of(profile_id)
    store.get_profile(session, profile_id)
    if other == profile_id:
        raise InvalidInput("a profile cannot exclude itself", [FieldProblem("/excluded", "same as the profile")])
    store.get_profile(session, other)
    row = store.upsert_exclusion(
        session, ExclusionIn(profile=profile_id, excluded=other, reason=reason), principal.label
    )
    session.commit()
    return ExclusionOut(
        profile=profile_id, excluded=other, reason=row.reason, created_by=row.created_by, created_at=row.created_at
    )


def list_exclusions(*, session: Session, principal: Principal, profile_id: str) -> list[ExclusionOut]:
    """A profile's exclusions, oldest first, for a key that may read its relations."""
    principal.require_reader_of(profile_id)
    store.get_profile(session, profile_id)
    return [exclusion_out(profile_id, e) for e in store.list_exclusions(session, profile_id)]


def delete_exclusion(*, session: Session, principal: Principal, profile_id: str, other: str) -> None:
    """Undo an exclusion or a rejection; `NotFound` if there is none."""
    principal.require_reader_of(profile_id)
    store.delete_exclusion(session, profile_id, other)
    session.commit()
