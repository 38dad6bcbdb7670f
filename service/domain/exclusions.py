"""Exclusions ("never suggest X to me", in both directions): record one (also what rejecting a suggestion does),
list and undo them.

The rules, for a pair of profiles:
- an exclusion records its maker: the side whose member made it, or a manager (imports too);
  those from before makers were recorded have none;
- only its member maker or a manager removes it; the other side sees that it exists, never its
  reason nor the key that made it;
- repeating it as its maker (or a manager) replaces the reason; a manager's takes it over, so a
  member can no longer remove it; the other side's repeat changes nothing (it already holds);
- excluding a pair settles a pending proposal between them: it is declined (or withdrawn).
"""

from sqlalchemy.orm import Session

from service.auth import Principal
from service.db import store
from service.db.models import Exclusion
from service.domain.partnerships import commit_pair_decision
from service.domain.references import require_pair
from service.errors import Forbidden, NotFound
from service.schemas import ExclusionOut

__all__ = ["exclusion_out", "exclude", "list_exclusions", "delete_exclusion"]


def _may_change(principal: Principal, profile_id: str, row: Exclusion) -> bool:
    """Whether `principal`, answering for `profile_id`, made it (as that side's member) or is a manager."""
    return principal.is_manager or (row.maker_role == "member" and row.maker == profile_id)


def exclusion_out(principal: Principal, profile_id: str, row: Exclusion) -> ExclusionOut:
    """An exclusion as `profile_id` sees it through `principal`: the other side is the one excluded."""
    sees_why = _may_change(principal, profile_id, row)
    return ExclusionOut(
        profile=profile_id,
        excluded=row.other_than(profile_id),
        reason=row.reason if sees_why else None,
        created_by=row.created_by if sees_why else None,
        created_at=row.created_at,
        maker=row.maker,
        maker_role=row.maker_role,
        removable=sees_why,
    )


def exclude(*, session: Session, principal: Principal, profile_id: str, other: str, reason: str | None) -> ExclusionOut:
    """Never suggest `other` to this profile or it to `other`, as the rules above say."""
    principal.require_reader_of(profile_id)
    store.get_profile(session, profile_id)
    require_pair(session, profile_id=profile_id, other=other, at="/excluded")
    proposal = store.get_proposal(session, profile_id, other)
    if proposal is not None:
        session.delete(proposal)
    row = store.get_exclusion(session, profile_id, other)
    if row is None:
        row = store.add_exclusion(
            session,
            profile_id,
            other,
            reason=reason,
            created_by=principal.label,
            maker=None if principal.is_manager else profile_id,
            maker_role="manager" if principal.is_manager else "member",
        )
    elif principal.is_manager:
        row.maker, row.maker_role, row.created_by = None, "manager", principal.label
        row.reason = reason or row.reason
    elif _may_change(principal, profile_id, row):
        row.reason = reason or row.reason
    commit_pair_decision(session)
    return exclusion_out(principal, profile_id, row)


def list_exclusions(*, session: Session, principal: Principal, profile_id: str) -> list[ExclusionOut]:
    """A profile's exclusions, oldest first, for a key that may read its relations."""
    principal.require_reader_of(profile_id)
    store.get_profile(session, profile_id)
    return [exclusion_out(principal, profile_id, e) for e in store.list_exclusions(session, profile_id)]


def delete_exclusion(*, session: Session, principal: Principal, profile_id: str, other: str) -> None:
    """Undo an exclusion or a rejection: its member maker or a manager may (`Forbidden` otherwise);
    `NotFound` if there is none."""
    principal.require_reader_of(profile_id)
    row = store.get_exclusion(session, profile_id, other)
    if row is None:
        raise NotFound(f"{profile_id!r} has no exclusion of {other!r}")
    if not _may_change(principal, profile_id, row):
        made = {"member": "made by the other side", "manager": "made by a manager"}.get(
            row.maker_role or "", "made before makers were recorded"
        )
        raise Forbidden(f"the exclusion of {other!r} was {made}: only its maker or a manager may remove it")
    session.delete(row)
    session.commit()
