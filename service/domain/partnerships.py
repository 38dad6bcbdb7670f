"""Partnerships with both sides' consent: a member's accept proposes one, the other side (or a manager)
confirms it; listing a profile's partnerships and proposals, and withdrawing, declining or ending one.

The rules, for a pair of profiles:
- a member's accept is a proposal until the other side's member, or a manager, confirms it (by
  accepting in turn); a proposal never counts as a partnership (suggestions, pairing, batch runs,
  exports read agreed ones only);
- a manager's (or an admin's) accept records an agreed partnership at once, held by managers;
- a member may not propose to a profile an exclusion stands between (409);
- either side's member, or a manager, may withdraw or decline a proposal;
- either side's member may end a partnership both members agreed to; one that is held by managers
  (a programme's, a manager's, an imported one, or one from before consent was recorded) only a manager.
"""

from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.auth import Principal
from service.db import store
from service.db.models import Partnership, PartnershipProposal
from service.domain.references import require_pair
from service.errors import Conflict, FieldProblem, Forbidden, NotFound
from service.schemas import AcceptOut, PartnershipIn, PartnershipOut

__all__ = [
    "accept_suggestion",
    "partner_ids",
    "list_partnerships",
    "delete_partnership",
    "commit_pair_decision",
]


def commit_pair_decision(session: Session) -> None:
    """Commit a decision on a pair; if a concurrent one stored a row of the same pair first, nothing is stored."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("another decision on the same pair was stored while this one was under way; try again") from None


def accept_suggestion(*, session: Session, principal: Principal, profile_id: str, other: str) -> AcceptOut:
    """Accept `other` as this profile's partner: a member proposes it or confirms the other side's
    proposal; a manager records it agreed (undo: `delete_partnership`)."""
    principal.require_reader_of(profile_id)
    store.get_profile(session, profile_id)
    require_pair(session, profile_id=profile_id, other=other, at="/other")
    existing = store.get_partnership(session, profile_id, other)
    if principal.is_manager:
        row = store.upsert_partnership(session, PartnershipIn(a=profile_id, b=other), accepted_by=principal.label)
        row.members_agreed = False  # a manager confirmed it: the programme holds it now
        commit_pair_decision(session)
        return AcceptOut(cohort="", accepted=1, created=int(existing is None), accepted_by=principal.label)
    if existing is not None:
        return AcceptOut(cohort="", accepted=1, created=0, accepted_by=principal.label)
    proposal = store.get_proposal(session, profile_id, other)
    if proposal is not None and proposal.proposer == other:
        store.confirm_proposal(session, proposal, accepted_by=principal.label)
        commit_pair_decision(session)
        return AcceptOut(cohort="", accepted=1, created=1, accepted_by=principal.label)
    if proposal is None:
        if store.get_exclusion(session, profile_id, other) is not None:
            raise Conflict(
                f"an exclusion stands between {profile_id!r} and {other!r}: a partnership cannot be proposed",
                [FieldProblem("/other", "excluded")],
            )
        store.add_proposal(session, profile_id, other, proposed_by=principal.label)
        commit_pair_decision(session)
    return AcceptOut(cohort="", accepted=0, created=0, accepted_by=principal.label, state="proposed", waiting_for=other)


def partner_ids(*, session: Session, principal: Principal, profile_id: str) -> set[str]:
    """The ids of a profile's agreed partners, for a key that may read its relations."""
    principal.require_reader_of(profile_id)
    return store.partner_ids(session, profile_id)


def _may_remove(principal: Principal, row: Partnership | PartnershipProposal) -> bool:
    if principal.is_manager or isinstance(row, PartnershipProposal):
        return True
    return not row.held_by_managers


def _agreed_out(profile_id: str, row: Partnership, principal: Principal) -> PartnershipOut:
    return PartnershipOut(
        profile=profile_id,
        partner=row.other_than(profile_id),
        state="agreed",
        proposer=row.proposer,
        waiting_for=None,
        programme=row.programme,
        themes=row.themes or [],
        accepted_by=row.accepted_by,
        accepted_at=row.accepted_at,
        created_at=row.created_at,
        held_by_managers=row.held_by_managers,
        removable=_may_remove(principal, row),
    )


def _proposal_out(profile_id: str, row: PartnershipProposal) -> PartnershipOut:
    return PartnershipOut(
        profile=profile_id,
        partner=row.other_than(profile_id),
        state="proposed",
        proposer=row.proposer,
        waiting_for=row.waiting_for,
        programme=None,
        themes=[],
        accepted_by=None,
        accepted_at=None,
        created_at=row.created_at,
        held_by_managers=False,
        removable=True,
    )


def list_partnerships(*, session: Session, principal: Principal, profile_id: str) -> list[PartnershipOut]:
    """A profile's agreed partnerships, then its proposals (sent and waiting for its answer), for a key
    that may read its relations."""
    principal.require_reader_of(profile_id)
    store.get_profile(session, profile_id)
    agreed = [_agreed_out(profile_id, p, principal) for p in store.list_partnerships(session, profile_id)]
    return agreed + [_proposal_out(profile_id, p) for p in store.list_proposals(session, profile_id)]


def delete_partnership(
    *, session: Session, principal: Principal, profile_id: str, other: str
) -> Literal["withdrawn", "declined", "ended"]:
    """Withdraw or decline a proposal, or end a partnership, as the rules above allow (`Forbidden`
    otherwise); `NotFound` if the pair has neither. Returns which it was."""
    principal.require_reader_of(profile_id)
    proposal = store.get_proposal(session, profile_id, other)
    if proposal is not None:
        session.delete(proposal)
        session.commit()
        return "withdrawn" if proposal.proposer == profile_id else "declined"
    row = store.get_partnership(session, profile_id, other)
    if row is None:
        raise NotFound(f"{profile_id!r} has no partnership with {other!r}, nor a proposal of one")
    if not _may_remove(principal, row):
        raise Forbidden(
            f"the partnership of {profile_id!r} with {other!r} is "
            + (f"a partnership of the programme {row.programme!r}" if row.programme else "held by managers")
            + ": only a manager may end it"
        )
    session.delete(row)
    session.commit()
    return "ended"
