"""What refers to a profile from elsewhere, and what happens to it when the profile is deleted.

A profile that others refer to is not deleted from under them: an agreed partnership, an exclusion
its own member did not make, a cohort membership or an organisation based in it make the delete a
`Referenced` (409) that lists them, unless a manager deletes the profile with them (`cascade`):
partnerships, proposals, exclusions and memberships go, and the organisations lose their `city`.
Pending proposals and the exclusions its own member made are the profile's own and always go with
it. Its member keys die with it, so no one who held one controls whoever takes the id later.
"""

from sqlalchemy.orm import Session

from service.auth import Principal
from service.db import store
from service.db.models import Profile
from service.errors import Forbidden, Referenced
from service.schemas import ProfileDeleted, ProfileReferences

__all__ = ["references_to", "delete_profile"]


def references_to(session: Session, profile_id: str, *, blocking: bool) -> ProfileReferences:
    """What refers to the profile: everything, or (`blocking`) only what another side or a manager holds."""
    exclusions = [
        e.other_than(profile_id)
        for e in store.list_exclusions(session, profile_id)
        if not blocking or not (e.maker_role == "member" and e.maker == profile_id)
    ]
    return ProfileReferences(
        partnerships=[p.other_than(profile_id) for p in store.list_partnerships(session, profile_id)],
        proposals=[] if blocking else [p.other_than(profile_id) for p in store.list_proposals(session, profile_id)],
        exclusions=exclusions,
        cohorts=store.cohorts_with(session, profile_id),
        organisations=store.organisations_in(session, profile_id),
    )


def delete_profile(*, session: Session, principal: Principal, profile: Profile, cascade: bool) -> ProfileDeleted:
    """Delete a profile with what goes with it, as the rules above say, and return what went.

    `cascade` is for managers only (`Forbidden` otherwise); without it, `Referenced` lists what blocks.
    """
    if cascade and not principal.is_manager:
        raise Forbidden("only a manager may delete a profile together with what refers to it (cascade)")
    if not cascade:
        blocking = references_to(session, profile.id, blocking=True)
        if not blocking.empty():
            held = ", ".join(f"{len(ids)} {name}" for name, ids in blocking if ids)
            raise Referenced(
                f"profile {profile.id!r} is referred to by {held}; remove those first, "
                "or have a manager delete it with them (?cascade=true)",
                extra={"references": blocking.model_dump()},
            )
    removed = references_to(session, profile.id, blocking=False)
    store.delete_profile(session, profile)
    store.unlink_organisations(session, profile.id)
    keys = store.revoke_member_keys(session, profile.id)
    return ProfileDeleted(deleted=profile.id, removed=removed, keys_revoked=keys)
