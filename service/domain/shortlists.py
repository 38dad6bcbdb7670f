"""Shortlists: the profiles a profile keeps in view, each with a note (save, list, change the note, remove).

The rules:
- a profile's shortlist is its member's and the managers': a member reads and changes only its own
  profile's (`Principal.require_reader_of`), so no member ever sees or touches another's;
- an entry keeps a stored profile other than the shortlist's own (`references.require_pair`);
- saving a kept profile again replaces its note; the note is free text (`schemas.Note`);
- a profile's shortlist goes with it; an entry naming a profile keeps a member from deleting that
  profile, as the references rules say (`service.domain.references`).
"""

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.auth import Principal
from service.db import store
from service.db.models import Profile, ShortlistEntry, utcnow
from service.domain.references import require_pair
from service.errors import Conflict, NotFound
from service.schemas import ShortlistEntryOut

__all__ = ["save_to_shortlist", "list_shortlist", "remove_from_shortlist"]


def _entry_out(entry: ShortlistEntry, kept: Profile) -> ShortlistEntryOut:
    return ShortlistEntryOut(
        profile=entry.profile_id,
        other=entry.other_id,
        name=kept.name,
        kind=kept.kind,
        note=entry.note,
        saved_by=entry.saved_by,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
    )


def save_to_shortlist(
    *, session: Session, principal: Principal, profile_id: str, other: str, note: str | None
) -> tuple[ShortlistEntryOut, bool]:
    """Keep `other` on this profile's shortlist with `note` (replacing the note if it is kept already).

    Returns the entry and whether it is new. An empty note is none.
    """
    principal.require_reader_of(profile_id)
    store.get_profile(session, profile_id)
    require_pair(session, profile_id=profile_id, other=other, at="/other")
    note = note or None
    entry = store.get_shortlist_entry(session, profile_id, other)
    created = entry is None
    if entry is None:
        entry = ShortlistEntry(profile_id=profile_id, other_id=other, note=note, saved_by=principal.label)
        session.add(entry)
    else:
        entry.note, entry.saved_by, entry.updated_at = note, principal.label, utcnow()
    try:
        session.commit()
    except IntegrityError:
        # the same entry was saved by a concurrent request between our read and our insert
        session.rollback()
        raise Conflict(f"{other!r} was saved to the shortlist of {profile_id!r} meanwhile; try again") from None
    return _entry_out(entry, store.get_profile(session, other)), created


def list_shortlist(*, session: Session, principal: Principal, profile_id: str) -> list[ShortlistEntryOut]:
    """A profile's shortlist, oldest first, for its member and managers."""
    principal.require_reader_of(profile_id)
    store.get_profile(session, profile_id)
    return [_entry_out(entry, kept) for entry, kept in store.list_shortlist(session, profile_id)]


def remove_from_shortlist(*, session: Session, principal: Principal, profile_id: str, other: str) -> None:
    """Take `other` off this profile's shortlist; `NotFound` if it is not on it."""
    principal.require_reader_of(profile_id)
    entry = store.get_shortlist_entry(session, profile_id, other)
    if entry is None:
        raise NotFound(f"{other!r} is not on the shortlist of {profile_id!r}")
    session.delete(entry)
    session.commit()
