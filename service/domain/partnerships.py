"""Partnerships: accepting a suggestion records one, listing a profile's, and undoing one."""

from sqlalchemy.orm import Session

from service.auth import Principal
from service.db import store
from service.db.models import Partnership
from service.errors import FieldProblem, InvalidInput
from service.schemas import AcceptOut, PartnershipIn

__all__ = ["accept_suggestion", "partner_ids", "list_partnerships", "delete_partnership"]


def accept_suggestion(
    *, session: Session, principal: Principal, profile_id: str, other: str, programme: str | None = None
) -> AcceptOut:
    """Accepting a suggestion records a partnership, so it is no longer suggested (undo: `delete_partnership`)."""
    principal.require_reader_of(profile_id)
    store.get_profile(session, profile_id)
    store.get_profile(session, other)
    if other == profile_id:
        raise InvalidInput("a profile cannot partner itself", [FieldProblem("/other", "same as the profile")])
    created = other not in store.partner_ids(session, profile_id)
    store.upsert_partnership(
        session, PartnershipIn(a=profile_id, b=other, programme=programme), accepted_by=principal.label
    )
    session.commit()
    return AcceptOut(cohort="", accepted=1, created=int(created), accepted_by=principal.label)


def partner_ids(*, session: Session, principal: Principal, profile_id: str) -> set[str]:
    """The ids of a profile's partners, for a key that may read its relations."""
    principal.require_reader_of(profile_id)
    return store.partner_ids(session, profile_id)


def list_partnerships(*, session: Session, principal: Principal, profile_id: str) -> list[Partnership]:
    """A profile's partnerships, for a key that may read its relations."""
    principal.require_reader_of(profile_id)
    return store.list_partnerships(session, profile_id)


def delete_partnership(*, session: Session, principal: Principal, profile_id: str, other: str) -> None:
    """Undo a partnership; `NotFound` if there is none."""
    principal.require_reader_of(profile_id)
    store.delete_partnership(session, profile_id, other)
    session.commit()
