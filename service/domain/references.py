"""References between profiles: the rules every write that makes one must meet, and what happens to
them when a profile is deleted.

Every path that writes a reference (the API's and the workspace's profile, cohort and pair writes,
and bundle import) checks it with the same function here, so what one path stores the others accept:
- a profile's `city` names a stored city profile other than itself (`city_problems`);
- a cohort has at least two sides (`CohortIn`), each with a member, and every member is a stored
  city profile (`cohort_problems`);
- a pair (a partnership, an exclusion) is two distinct stored profiles (`pair_problems`);
- a profile that an organisation names as its `city`, or that a cohort counts as a member, stays a
  city (`kept_kind_problems`).

A profile that others refer to is not deleted from under them: an agreed partnership, an exclusion
its own member did not make, a cohort membership, an organisation based in it or an entry on another
profile's shortlist make the delete a `Referenced` (409) that lists them (shortlist entries by
count only: whose shortlist keeps whom is that profile's own), unless a manager deletes the profile
with them (`cascade`): partnerships, proposals, exclusions, memberships and those entries go, and
the organisations lose their `city`.
A cascade that would leave a cohort with fewer than two sides is a `Referenced` too: a cohort of one
side is no cohort, and deleting a whole cohort is a manager's own decision. Pending proposals, the
exclusions its own member made and its own shortlist are the profile's own and always go with it. Its member keys die
with it, so no one who held one controls whoever takes the id later.
"""

from collections.abc import Iterable, Mapping

from sqlalchemy.orm import Session

from service.auth import Principal
from service.db import store
from service.db.models import Profile
from service.errors import FieldProblem, Forbidden, InvalidInput, ProfileNotFound, Referenced
from service.schemas import ProfileDeleted, ProfileFields, ProfileReferences

__all__ = [
    "city_problems",
    "cohort_problems",
    "pair_problems",
    "kept_kind_problems",
    "profile_reference_problems",
    "require_profile_references",
    "require_cohort_members",
    "require_pair",
    "references_to",
    "delete_profile",
]


def city_problems(*, at: str, profile_id: str, city: str | None, kinds: Mapping[str, str]) -> list[FieldProblem]:
    """What breaks the rule that a profile's `city` names a city profile other than itself.

    `kinds` maps the ids that may be named to their kinds (what is stored, and a bundle's own profiles).
    """
    if city is None:
        return []
    if city == profile_id:
        return [FieldProblem(at, f"{city!r} is the profile itself: a profile cannot be based in itself")]
    if city not in kinds:
        return [FieldProblem(at, f"no profile {city!r}")]
    if kinds[city] != "city":
        return [FieldProblem(at, f"{city!r} is an {kinds[city]}, not a city")]
    return []


def cohort_problems(*, at: str, sides: Mapping[str, list[str]], kinds: Mapping[str, str]) -> list[FieldProblem]:
    """What breaks the rule that every side of a cohort has a member and every member is a city profile.

    That a cohort has two sides at least and no member on two is `CohortIn`'s rule, checked as it is read.
    """
    problems = []
    for side, members in sides.items():
        if not members:
            problems.append(FieldProblem(f"{at}/sides/{side}", "a side needs at least one member"))
        for j, member in enumerate(members):
            if member not in kinds:
                problems.append(FieldProblem(f"{at}/sides/{side}/{j}", f"no profile {member!r}"))
            elif kinds[member] != "city":
                detail = f"{member!r} is an {kinds[member]}: cohort members are cities"
                problems.append(FieldProblem(f"{at}/sides/{side}/{j}", detail))
    return problems


def pair_problems(*, ends: tuple[tuple[str, str], tuple[str, str]], kinds: Mapping[str, str]) -> list[FieldProblem]:
    """What breaks the rule that a pair (a partnership, an exclusion) is two distinct profiles;
    `ends` are its two sides, each as (pointer, id)."""
    problems = [FieldProblem(at, f"no profile {ref!r}") for at, ref in ends if ref not in kinds]
    (_, a), (at_b, b) = ends
    if a == b:
        problems.append(FieldProblem(at_b, f"{b!r} is on both sides: a profile cannot pair with itself"))
    return problems


def kept_kind_problems(
    *, at: str, profile_id: str, kind: str, organisations: Iterable[str], cohorts: Iterable[str]
) -> list[FieldProblem]:
    """What breaks the rule that a profile others count as a city stays one: the profiles whose `city`
    names it (`organisations`) and the cohorts it is a member of."""
    if kind == "city":
        return []
    held = [f"the city of {o!r}" for o in organisations if o != profile_id]
    held += [f"a member of cohort {c!r}" for c in cohorts]
    if not held:
        return []
    return [FieldProblem(at, f"{profile_id!r} is {', '.join(held)}: it stays a city while they refer to it")]


def profile_reference_problems(session: Session, *, profile_id: str, kind: str, city: str | None) -> list[FieldProblem]:
    """What a profile write of this `kind` and `city` breaks against what is stored: its `city`
    (`city_problems`) and, if it is to be an organisation, what counts it as a city (`kept_kind_problems`)."""
    kinds = store.profile_kinds(session, [city]) if city else {}
    problems = city_problems(at="/city", profile_id=profile_id, city=city, kinds=kinds)
    if kind != "city":
        problems += kept_kind_problems(
            at="/kind",
            profile_id=profile_id,
            kind=kind,
            organisations=store.organisations_in(session, profile_id),
            cohorts=store.cohorts_with(session, profile_id),
        )
    return problems


def require_profile_references(session: Session, *, profile_id: str, data: ProfileFields) -> None:
    """Check a profile write (the API's, the workspace's) against what is stored
    (`profile_reference_problems`); `InvalidInput` lists what breaks."""
    problems = profile_reference_problems(session, profile_id=profile_id, kind=data.kind, city=data.city)
    if problems:
        raise InvalidInput("the profile refers to what it may not, or others refer to it; nothing was stored", problems)


def require_cohort_members(session: Session, *, sides: Mapping[str, list[str]]) -> None:
    """Check a cohort write (the API's, the workspace's) against what is stored (`cohort_problems`);
    `InvalidInput` lists what breaks."""
    kinds = store.profile_kinds(session, [m for members in sides.values() for m in members])
    problems = cohort_problems(at="", sides=sides, kinds=kinds)
    if problems:
        raise InvalidInput(
            "the cohort names profiles that are not cities, or no one on a side; nothing was stored", problems
        )


def require_pair(session: Session, *, profile_id: str, other: str, at: str) -> None:
    """Check a pair decision (the API's, the workspace's) of a stored `profile_id` with `other`, at the
    pointer `at` (`pair_problems`): a missing `other` is `ProfileNotFound`, the profile itself `InvalidInput`."""
    kinds = store.profile_kinds(session, [profile_id, other])
    problems = pair_problems(ends=(("", profile_id), (at, other)), kinds=kinds)
    if other not in kinds:
        raise ProfileNotFound(f"no profile with id {other!r}", problems)
    if problems:
        raise InvalidInput(f"{other!r} is the profile itself: a profile cannot pair with itself", problems)


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
        shortlist=[] if blocking else [e.other_id for e, _ in store.list_shortlist(session, profile_id)],
        shortlisted=store.shortlisted_elsewhere(session, profile_id),
    )


def delete_profile(*, session: Session, principal: Principal, profile: Profile, cascade: bool) -> ProfileDeleted:
    """Delete a profile with what goes with it, as the rules above say, and return what went.

    `cascade` is for managers only (`Forbidden` otherwise); without it, `Referenced` lists what blocks.
    """
    if cascade and not principal.is_manager:
        raise Forbidden("only a manager may delete a profile together with what refers to it (cascade)")
    if cascade:
        _require_cohorts_outlive(session, profile.id)
    if not cascade:
        blocking = references_to(session, profile.id, blocking=True)
        if not blocking.empty():
            held = ", ".join(
                f"{held} entries on other profiles' shortlists" if name == "shortlisted" else f"{len(held)} {name}"
                for name, held in blocking
                if held
            )
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


def _require_cohorts_outlive(session: Session, profile_id: str) -> None:
    """`Referenced` if deleting the profile would leave one of its cohorts with fewer than two sides."""
    one_sided = [
        cohort_id
        for cohort_id in store.cohorts_with(session, profile_id)
        if sum(1 for members in store.get_cohort(session, cohort_id).sides().values() if set(members) - {profile_id})
        < 2
    ]
    if one_sided:
        raise Referenced(
            f"deleting {profile_id!r} would leave cohort(s) {', '.join(map(repr, one_sided))} with fewer than "
            "two sides; change or delete them first",
            extra={"references": ProfileReferences(cohorts=one_sided).model_dump()},
        )
