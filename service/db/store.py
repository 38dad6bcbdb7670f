"""Queries and writes on profiles, partnerships, cohorts and exclusions, each within the caller's transaction."""

import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from service.db import search
from service.db.models import (
    ApiKey,
    Cohort,
    CohortMember,
    Exclusion,
    NoticeVisit,
    Partnership,
    PartnershipProposal,
    Phrase,
    Profile,
    Programme,
    ShortlistEntry,
    other_side,
    utcnow,
)
from service.errors import AlreadyExists, FieldProblem, NotFound, ProfileNotFound, VersionConflict
from service.schemas import (
    Bundle,
    CohortIn,
    ExclusionIn,
    ImportSummary,
    PartnershipIn,
    ProfileCreate,
    ProfileFields,
    ProfileOut,
)

__all__ = [
    "get_profile",
    "list_profiles",
    "search_profile_ids",
    "countries_in_use",
    "bloc_as_stored",
    "create_profile",
    "replace_profile",
    "profile_at_version",
    "delete_profile",
    "profile_out",
    "import_bundle",
    "export_bundle",
    "profile_kinds",
    "partner_ids",
    "excluded_ids",
    "cohort_id",
    "upsert_partnership",
    "programme_named",
    "programme_partners",
    "settle_cohort_programme",
    "get_partnership",
    "get_proposal",
    "add_proposal",
    "confirm_proposal",
    "list_proposals",
    "get_exclusion",
    "add_exclusion",
    "upsert_exclusion",
    "upsert_cohort",
    "list_exclusions",
    "list_cohorts",
    "get_cohort",
    "profiles_by_ids",
    "partner_pairs",
    "list_partnerships",
    "cohorts_with",
    "organisations_in",
    "unlink_organisations",
    "revoke_member_keys",
    "get_shortlist_entry",
    "list_shortlist",
    "shortlisted_elsewhere",
    "proposals_waiting",
    "get_notice_visit",
    "record_notice_visit",
]

SCALAR_FIELDS = ("kind", "name", "country", "bloc", "org_type", "city", "description")
PHRASE_ROLES = ("interest", "offer")


def get_profile(session: Session, profile_id: str) -> Profile:
    profile = session.get(Profile, profile_id)
    if profile is None:
        raise ProfileNotFound(f"no profile with id {profile_id!r}")
    return profile


def profile_out(profile: Profile) -> ProfileOut:
    return ProfileOut.model_construct(
        id=profile.id,
        **{f: getattr(profile, f) for f in SCALAR_FIELDS},
        interests=profile.phrase_texts("interest"),
        offers=profile.phrase_texts("offer"),
        version=profile.version,
        created_at=profile.created_at,
        updated_at=profile.updated_at,
    )


def list_profiles(
    session: Session,
    *,
    kind: str | None = None,
    bloc: str | None = None,
    country: str | None = None,
    org_type: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Profile], str | None, int]:
    """Return one page ordered by id, the cursor of the next page, and the number of matches.

    Bloc and country are codes, matched in either case ("kr" finds KR); `q` is a full-text search
    (what it finds: `service.db.search`).
    """
    query = select(Profile)
    if kind:
        query = query.where(Profile.kind == kind)
    if bloc:
        query = query.where(func.upper(Profile.bloc) == bloc.upper())
    if country:
        query = query.where(Profile.country == country.upper())
    if org_type:
        query = query.where(Profile.org_type == org_type)
    if q:
        query = query.where(Profile.id.in_(search.matching_ids(session, q)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if cursor:
        query = query.where(Profile.id > cursor)
    rows = list(session.scalars(query.order_by(Profile.id).limit(limit + 1)))
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor, total


def search_profile_ids(session: Session, q: str, *, names_only: bool = False) -> set[str]:
    """The ids of every profile the full-text search `q` finds (in their names only, with `names_only`)."""
    return set(session.scalars(search.matching_ids(session, q, names_only=names_only)))


def bloc_as_stored(session: Session, bloc: str) -> str:
    """The spelling profiles store a bloc asked for in any case under ("KR" for "kr"; the first by code
    point if two spellings are stored); the bloc as given when no profile has it."""
    stored = session.scalar(
        select(Profile.bloc).where(func.upper(Profile.bloc) == bloc.upper()).order_by(Profile.bloc).limit(1)
    )
    return stored or bloc


def countries_in_use(session: Session) -> list[str]:
    """The countries stored profiles are in, as codes."""
    return list(session.scalars(select(Profile.country).distinct()))


def _set_phrases(profile: Profile, interests: Sequence[str], offers: Sequence[str]) -> None:
    profile.phrases = [
        Phrase(role=role, position=i, text=text)
        for role, texts in (("interest", interests), ("offer", offers))
        for i, text in enumerate(texts)
    ]


def _differs(profile: Profile, data: ProfileFields) -> bool:
    return any(getattr(profile, f) != getattr(data, f) for f in SCALAR_FIELDS) or (
        profile.phrase_texts("interest") != data.interests or profile.phrase_texts("offer") != data.offers
    )


def _apply(profile: Profile, data: ProfileFields) -> None:
    for f in SCALAR_FIELDS:
        setattr(profile, f, getattr(data, f))
    _set_phrases(profile, data.interests, data.offers)
    # phrase rows live in another table; touching the profile row makes the version move too
    profile.updated_at = utcnow()


def create_profile(session: Session, data: ProfileCreate) -> Profile:
    if session.get(Profile, data.id) is not None:
        raise AlreadyExists(f"a profile with id {data.id!r} exists", [FieldProblem("/id", "already taken")])
    profile = Profile(id=data.id, version=1)
    _apply(profile, data)
    session.add(profile)
    session.flush()
    search.index_profiles(session, [profile])
    return profile


def _check_version(profile: Profile, expected: int) -> None:
    if profile.version != expected:
        raise VersionConflict(
            f"profile {profile.id!r} is at version {profile.version}, not {expected}: "
            "someone changed it since you read it; fetch it again and re-apply your change",
            extra={"current_version": profile.version, "current": profile_out(profile).model_dump(mode="json")},
        )


def replace_profile(session: Session, profile_id: str, data: ProfileFields, expected_version: int) -> Profile:
    profile = get_profile(session, profile_id)
    _check_version(profile, expected_version)
    if _differs(profile, data):
        _apply(profile, data)
        session.flush()
        search.index_profiles(session, [profile])
    return profile


def profile_at_version(session: Session, profile_id: str, expected_version: int) -> Profile:
    """The stored profile if it is still at `expected_version` (else `VersionConflict`)."""
    profile = get_profile(session, profile_id)
    _check_version(profile, expected_version)
    return profile


def delete_profile(session: Session, profile: Profile) -> None:
    """Delete a profile; its phrases, pairs, proposals and cohort memberships go with it (foreign keys cascade)."""
    session.delete(profile)
    session.flush()


def ordered_pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def partner_ids(session: Session, profile_id: str) -> set[str]:
    rows = session.execute(
        select(Partnership.a, Partnership.b).where(or_(Partnership.a == profile_id, Partnership.b == profile_id))
    )
    return {other_side(a, b, profile_id) for a, b in rows}


def excluded_ids(session: Session, profile_id: str) -> set[str]:
    rows = session.execute(
        select(Exclusion.a, Exclusion.b).where(or_(Exclusion.a == profile_id, Exclusion.b == profile_id))
    )
    return {other_side(a, b, profile_id) for a, b in rows}


def _pair_row(session: Session, model: type, x: str, y: str) -> Any:
    a, b = ordered_pair(x, y)
    return session.scalar(select(model).where(model.a == a, model.b == b))


def get_partnership(session: Session, x: str, y: str) -> Partnership | None:
    return _pair_row(session, Partnership, x, y)


def get_proposal(session: Session, x: str, y: str) -> PartnershipProposal | None:
    return _pair_row(session, PartnershipProposal, x, y)


def get_exclusion(session: Session, x: str, y: str) -> Exclusion | None:
    return _pair_row(session, Exclusion, x, y)


def programme_named(session: Session, name: str | None) -> Programme | None:
    """The programme of that name, created when new; None for no name."""
    if name is None:
        return None
    row = session.scalar(select(Programme).where(Programme.name == name))
    if row is None:
        row = Programme(name=name)
        session.add(row)
        session.flush()
    return row


def upsert_partnership(
    session: Session, p: PartnershipIn, accepted_by: str | None = None, *, cohort: Cohort | None = None
) -> Partnership:
    """Record an agreed partnership (an import's or a manager's); a proposal of the pair is settled by it.

    A new one is held by managers (and keeps who proposed it, if someone had); a stored one keeps
    who agreed to it and takes the programme and themes given, so importing an export changes nothing.
    A cohort's pairing names its `cohort`: the partnership belongs to it from then on.
    """
    a, b = ordered_pair(p.a, p.b)
    proposal = get_proposal(session, a, b)
    if proposal is not None:
        session.delete(proposal)
    row = get_partnership(session, a, b)
    if row is None:
        row = Partnership(
            a=a,
            b=b,
            programme_row=programme_named(session, p.programme),
            cohort_id=cohort.id if cohort is not None else None,
            themes=list(p.themes),
            accepted_by=accepted_by,
            accepted_at=utcnow() if accepted_by else None,
            members_agreed=False,
            proposer=proposal.proposer if proposal else None,
            proposed_by=proposal.proposed_by if proposal else None,
        )
        session.add(row)
    else:
        if p.programme is not None:
            row.programme_row = programme_named(session, p.programme)
        if cohort is not None:
            row.cohort_id = cohort.id
        row.themes = list(p.themes) or row.themes
    return row


def programme_partners(session: Session, programme_id: int, ids: Iterable[str]) -> dict[str, set[str]]:
    """Each of `ids` with its partner cities (organisations are collaborators, not partners) in the programme."""
    ids = set(ids)
    rows = session.execute(
        select(Partnership.a, Partnership.b).where(
            Partnership.programme_id == programme_id, or_(Partnership.a.in_(ids), Partnership.b.in_(ids))
        )
    ).all()
    kinds = profile_kinds(session, [x for row in rows for x in row])
    out: dict[str, set[str]] = {i: set() for i in ids}
    for a, b in rows:
        for mine, other in ((a, b), (b, a)):
            if mine in ids and kinds.get(other) == "city":
                out[mine].add(other)
    return out


def _crossing_partnerships(session: Session, cohort: Cohort) -> list[Partnership]:
    """The stored partnerships between members of different sides of the cohort."""
    side = {m.profile_id: m.side for m in cohort.members}
    rows = session.scalars(
        select(Partnership).where(Partnership.a.in_(side), Partnership.b.in_(side)).order_by(Partnership.id)
    )
    return [p for p in rows if side[p.a] != side[p.b]]


def settle_cohort_programme(session: Session, cohort: Cohort, programme: str | None = None) -> None:
    """Give the cohort its programme and its partnerships.

    The programme is the one named; else the one it has; else the programme most of the
    partnerships crossing its sides belong to (a tie goes to the one named as the cohort, then
    to the first by name); else none yet (accepting a pairing then names one after the cohort).
    Every partnership of that programme crossing its sides, not yet of a cohort, becomes its own.
    """
    crossing = _crossing_partnerships(session, cohort)
    if programme is not None:
        cohort.programme_row = programme_named(session, programme)
    elif cohort.programme_row is None:
        counts: dict[str, int] = {}
        for p in crossing:
            if p.programme is not None:
                counts[p.programme] = counts.get(p.programme, 0) + 1
        if counts:
            name = min(counts, key=lambda n: (-counts[n], n != cohort.name, n))
            cohort.programme_row = programme_named(session, name)
    if cohort.programme_row is None:
        return
    session.flush()
    for p in crossing:
        if p.cohort_id is None and p.programme_id == cohort.programme_id:
            p.cohort_id = cohort.id


def add_proposal(session: Session, proposer: str, other: str, proposed_by: str) -> PartnershipProposal:
    a, b = ordered_pair(proposer, other)
    row = PartnershipProposal(a=a, b=b, proposer=proposer, proposed_by=proposed_by)
    session.add(row)
    return row


def confirm_proposal(session: Session, proposal: PartnershipProposal, accepted_by: str) -> Partnership:
    """The other side's member agrees: the proposal becomes a partnership both members agreed to."""
    row = Partnership(
        a=proposal.a,
        b=proposal.b,
        themes=[],
        accepted_by=accepted_by,
        accepted_at=utcnow(),
        members_agreed=True,
        proposer=proposal.proposer,
        proposed_by=proposal.proposed_by,
    )
    session.delete(proposal)
    session.add(row)
    return row


def list_proposals(session: Session, profile_id: str) -> list[PartnershipProposal]:
    """Proposals this profile sent or that wait for its answer, oldest first."""
    return list(
        session.scalars(
            select(PartnershipProposal)
            .where(or_(PartnershipProposal.a == profile_id, PartnershipProposal.b == profile_id))
            .order_by(PartnershipProposal.created_at, PartnershipProposal.id)
        )
    )


def add_exclusion(
    session: Session,
    profile_id: str,
    other: str,
    *,
    reason: str | None,
    created_by: str | None,
    maker: str | None,
    maker_role: str,
) -> Exclusion:
    a, b = ordered_pair(profile_id, other)
    row = Exclusion(a=a, b=b, reason=reason, created_by=created_by, maker=maker, maker_role=maker_role)
    session.add(row)
    return row


def upsert_exclusion(session: Session, e: ExclusionIn, created_by: str | None = None) -> Exclusion:
    """An imported exclusion: a new one is a manager's; a stored one keeps its maker and takes a reason given."""
    row = get_exclusion(session, e.profile, e.excluded)
    if row is None:
        row = add_exclusion(
            session, e.profile, e.excluded, reason=e.reason, created_by=created_by, maker=None, maker_role="manager"
        )
    elif e.reason:
        row.reason = e.reason
    return row


def cohort_id(cohort: CohortIn) -> str:
    """A cohort's id: the one given, else its name in lower case with runs of other characters as `-`."""
    if cohort.id:
        return cohort.id
    return re.sub(r"[^a-z0-9._-]+", "-", cohort.name.lower()).strip("-")[:64] or "cohort"


def upsert_cohort(session: Session, cohort: CohortIn) -> Cohort:
    """Create or change a cohort and settle its programme (`settle_cohort_programme`)."""
    cid = cohort_id(cohort)
    row = session.get(Cohort, cid)
    if row is None:
        row = Cohort(id=cid, name=cohort.name)
        session.add(row)
    elif row.sides() == cohort.sides:
        row.name = cohort.name
        settle_cohort_programme(session, row, cohort.programme)
        return row
    else:
        # the old members must be gone before new rows with the same (cohort, profile) arrive
        row.members.clear()
        session.flush()
    row.name = cohort.name
    row.members = [
        CohortMember(side=side, position=i, profile_id=member)
        for side, members in cohort.sides.items()
        for i, member in enumerate(members)
    ]
    session.flush()
    settle_cohort_programme(session, row, cohort.programme)
    return row


def import_bundle(session: Session, bundle: Bundle, accepted_by: str | None = None) -> tuple[ImportSummary, list[str]]:
    """Upsert everything in a validated bundle; returns the summary and the ids whose text changed."""
    created = updated = unchanged = 0
    changed: list[Profile] = []
    existing = {
        p.id: p for p in session.scalars(select(Profile).where(Profile.id.in_([p.id for p in bundle.profiles])))
    }
    for data in bundle.profiles:
        profile = existing.get(data.id)
        if profile is None:
            profile = Profile(id=data.id, version=1)
            _apply(profile, data)
            session.add(profile)
            created += 1
            changed.append(profile)
        elif _differs(profile, data):
            _apply(profile, data)
            updated += 1
            changed.append(profile)
        else:
            unchanged += 1
    session.flush()
    search.index_profiles(session, changed)
    for p in bundle.partnerships:
        upsert_partnership(session, p, accepted_by)
    touched = {upsert_cohort(session, c).id for c in bundle.cohorts}
    if bundle.partnerships:
        # partnerships arriving after their cohort belong to it as well
        for row in session.scalars(select(Cohort).where(Cohort.id.not_in(touched))):
            settle_cohort_programme(session, row)
    for e in bundle.exclusions:
        upsert_exclusion(session, e, accepted_by)
    session.flush()
    summary = ImportSummary(
        profiles_created=created,
        profiles_updated=updated,
        profiles_unchanged=unchanged,
        partnerships=len(bundle.partnerships),
        cohorts=len(bundle.cohorts),
        exclusions=len(bundle.exclusions),
    )
    return summary, [p.id for p in changed]


def export_bundle(session: Session) -> dict[str, Any]:
    """Everything stored, as a `twinning.bundle/1` document that imports back unchanged."""
    profiles = [
        {"id": p.id} | profile_out(p).model_dump(mode="json", exclude={"id", "version", "created_at", "updated_at"})
        for p in session.scalars(select(Profile).order_by(Profile.id))
    ]
    partnerships = [
        {"a": p.a, "b": p.b, "programme": p.programme, "themes": p.themes or []}
        for p in session.scalars(select(Partnership).order_by(Partnership.a, Partnership.b))
    ]
    cohorts = [
        {"id": c.id, "name": c.name} | ({"programme": c.programme} if c.programme else {}) | {"sides": c.sides()}
        for c in session.scalars(select(Cohort).order_by(Cohort.id))
    ]
    # an exclusion a side's member made reads as that side's: "busan never wants tampere"
    exclusions = [
        {"profile": e.maker or e.a, "excluded": e.other_than(e.maker or e.a), "reason": e.reason}
        for e in session.scalars(select(Exclusion).order_by(Exclusion.a, Exclusion.b))
    ]
    return {
        "format": "twinning.bundle/1",
        "profiles": profiles,
        "partnerships": partnerships,
        "cohorts": cohorts,
        "exclusions": exclusions,
    }


def profile_kinds(session: Session, ids: Iterable[str]) -> dict[str, str]:
    """The stored profiles among `ids`, each with its kind."""
    ids = list(set(ids))
    if not ids:
        return {}
    return {pid: kind for pid, kind in session.execute(select(Profile.id, Profile.kind).where(Profile.id.in_(ids)))}


def profiles_by_ids(session: Session, ids: Iterable[str]) -> list[Profile]:
    ids = list(ids)
    return list(session.scalars(select(Profile).where(Profile.id.in_(ids)))) if ids else []


def list_exclusions(session: Session, profile_id: str) -> list[Exclusion]:
    return list(
        session.scalars(
            select(Exclusion)
            .where(or_(Exclusion.a == profile_id, Exclusion.b == profile_id))
            .order_by(Exclusion.created_at, Exclusion.id)
        )
    )


def list_cohorts(session: Session) -> list[Cohort]:
    return list(session.scalars(select(Cohort).order_by(Cohort.id)))


def get_cohort(session: Session, cid: str) -> Cohort:
    cohort = session.get(Cohort, cid)
    if cohort is None:
        raise NotFound(f"no cohort with id {cid!r}")
    return cohort


def partner_pairs(session: Session) -> set[frozenset[str]]:
    return {frozenset(row) for row in session.execute(select(Partnership.a, Partnership.b))}


def list_partnerships(session: Session, profile_id: str) -> list[Partnership]:
    return list(
        session.scalars(
            select(Partnership)
            .where(or_(Partnership.a == profile_id, Partnership.b == profile_id))
            .order_by(Partnership.id)
        )
    )


def cohorts_with(session: Session, profile_id: str) -> list[str]:
    """The ids of the cohorts the profile is a member of."""
    return list(
        session.scalars(
            select(CohortMember.cohort_id).where(CohortMember.profile_id == profile_id).order_by(CohortMember.cohort_id)
        )
    )


def organisations_in(session: Session, city_id: str) -> list[str]:
    """The ids of the profiles whose `city` names this one, in order."""
    return list(session.scalars(select(Profile.id).where(Profile.city == city_id).order_by(Profile.id)))


def unlink_organisations(session: Session, city_id: str) -> None:
    """Clear the `city` of every profile based in this one (a write of each: its version moves)."""
    for profile in session.scalars(select(Profile).where(Profile.city == city_id)):
        profile.city = None
        profile.updated_at = utcnow()
    session.flush()


def revoke_member_keys(session: Session, profile_id: str) -> int:
    """Revoke the live member keys bound to a profile; returns how many."""
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.profile_id == profile_id, ApiKey.role == "member", ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount


def get_shortlist_entry(session: Session, profile_id: str, other: str) -> ShortlistEntry | None:
    return session.scalar(
        select(ShortlistEntry).where(ShortlistEntry.profile_id == profile_id, ShortlistEntry.other_id == other)
    )


def list_shortlist(session: Session, profile_id: str) -> list[tuple[ShortlistEntry, Profile]]:
    """A profile's shortlist, oldest first, each entry with the profile it keeps."""
    rows = session.execute(
        select(ShortlistEntry, Profile)
        .join(Profile, Profile.id == ShortlistEntry.other_id)
        .where(ShortlistEntry.profile_id == profile_id)
        .order_by(ShortlistEntry.created_at, ShortlistEntry.id)
    )
    return [(entry, profile) for entry, profile in rows]


def shortlisted_elsewhere(session: Session, profile_id: str) -> int:
    """How many other profiles' shortlists keep this one."""
    return session.scalar(select(func.count()).where(ShortlistEntry.other_id == profile_id)) or 0


def proposals_waiting(session: Session, profile_id: str | None = None) -> list[PartnershipProposal]:
    """Proposals waiting for this profile's answer (or, without one, for anyone's), oldest first."""
    query = select(PartnershipProposal).order_by(PartnershipProposal.created_at, PartnershipProposal.id)
    if profile_id is not None:
        query = query.where(
            or_(PartnershipProposal.a == profile_id, PartnershipProposal.b == profile_id),
            PartnershipProposal.proposer != profile_id,
        )
    return list(session.scalars(query))


def get_notice_visit(session: Session, key_id: int) -> NoticeVisit | None:
    return session.get(NoticeVisit, key_id, populate_existing=True)


def record_notice_visit(session: Session, key_id: int, seen_suggestions: list[str]) -> NoticeVisit:
    """Set the key's last visit to now, with the suggestions it saw (a visit replaces the one before)."""
    visit = session.get(NoticeVisit, key_id)
    if visit is None:
        visit = NoticeVisit(key_id=key_id)
        session.add(visit)
    visit.visited_at, visit.seen_suggestions = utcnow(), list(seen_suggestions)
    return visit
