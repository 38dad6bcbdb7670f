"""What an import would do, before it does it: the profiles it creates, those it changes (and how),
those it leaves as they are, and the partnerships, cohorts and exclusions it creates and changes.

A preview is compared against what is stored when it is made, by the rules the import itself
follows (`service.db.store.import_bundle`): so a file imported as previewed does exactly what the
preview said. Its `digest` names what it says; `import_as_previewed` stores a file only while its
preview is still the same, and otherwise hands back the new one, storing nothing.
"""

import hashlib
from typing import Any

from sqlalchemy.orm import Session

from service.db import store
from service.db.models import Profile
from service.domain.bundles import Draft, check, store_checked
from service.errors import InvalidBundle
from service.live.index import LiveIndex
from service.schemas import (
    Bundle,
    FieldChange,
    ImportPreview,
    ImportSummary,
    PreviewedProfile,
    PreviewTally,
    ProfileChange,
    ProfileCreate,
)

__all__ = ["import_preview", "import_as_previewed", "profile_changes"]


def _previewed(p: ProfileCreate) -> PreviewedProfile:
    return PreviewedProfile(id=p.id, name=p.name, kind=p.kind, country=p.country)


def _phrase_change(name: str, before: list[str], after: list[str]) -> FieldChange | None:
    if before == after:
        return None
    kept = set(before) & set(after)
    return FieldChange(
        field=name, added=[t for t in after if t not in kept], removed=[t for t in before if t not in kept]
    )


def profile_changes(stored: Profile, data: ProfileCreate) -> list[FieldChange]:
    """Every field importing `data` changes in a stored profile: those `store.import_bundle` compares,
    values as they are, phrase lists in their order."""
    changes = [
        FieldChange(field=f, before=getattr(stored, f), after=getattr(data, f))
        for f in store.SCALAR_FIELDS
        if getattr(stored, f) != getattr(data, f)
    ]
    for name, role in (("interests", "interest"), ("offers", "offer")):
        if change := _phrase_change(name, stored.phrase_texts(role), getattr(data, name)):
            changes.append(change)
    return changes


def _count(tally: PreviewTally, before: Any, after: Any) -> None:
    """An entry upserted over `before` (None: nothing stored or earlier in the file), leaving `after`."""
    if before is None:
        tally.created += 1
    elif after != before:
        tally.changed += 1
    else:
        tally.unchanged += 1


def _partnerships(session: Session, bundle: Bundle) -> PreviewTally:
    """As `store.upsert_partnership` leaves them: a stored one takes a programme and themes given."""
    tally, seen = PreviewTally(), {}
    for p in bundle.partnerships:
        key = store.ordered_pair(p.a, p.b)
        if key in seen:
            before = seen[key]
        else:
            row = store.get_partnership(session, *key)
            before = None if row is None else (row.programme, list(row.themes or []))
        if before is None:
            after = (p.programme, list(p.themes))
        else:
            after = (p.programme if p.programme is not None else before[0], list(p.themes) or before[1])
        _count(tally, before, after)
        seen[key] = after
    return tally


def _exclusions(session: Session, bundle: Bundle) -> PreviewTally:
    """As `store.upsert_exclusion` leaves them: a stored one takes a reason given."""
    tally, seen = PreviewTally(), {}
    for e in bundle.exclusions:
        key = store.ordered_pair(e.profile, e.excluded)
        if key in seen:
            before = seen[key]
        else:
            row = store.get_exclusion(session, *key)
            before = None if row is None else (row.reason,)
        after = (e.reason,) if before is None or e.reason else before
        _count(tally, before, after)
        seen[key] = after
    return tally


def _cohorts(session: Session, bundle: Bundle) -> PreviewTally:
    """As `store.upsert_cohort` leaves them: a stored one takes the name and sides given, and the
    programme if one is named."""
    tally = PreviewTally()
    seen = {c.id: (c.name, c.sides(), c.programme) for c in store.list_cohorts(session)}
    for c in bundle.cohorts:
        key = store.cohort_id(c)
        before = seen.get(key)
        kept = before[2] if before is not None else None
        after = (c.name, c.sides, c.programme if c.programme is not None else kept)
        _count(tally, before, after)
        seen[key] = after
    return tally


def import_preview(*, session: Session, draft: Draft) -> ImportPreview:
    """What importing the draft would do now; `InvalidBundle` lists every problem (`check`) if the
    import would be refused, as the import itself would."""
    problems = check(session=session, draft=draft)
    if problems:
        raise InvalidBundle(f"the file has {len(problems)} problem(s); nothing was stored", problems)
    bundle = draft.bundle
    existing = {p.id: p for p in store.profiles_by_ids(session, [p.id for p in bundle.profiles])}
    created: list[PreviewedProfile] = []
    changed: list[ProfileChange] = []
    unchanged: list[PreviewedProfile] = []
    for data in bundle.profiles:
        profile = existing.get(data.id)
        if profile is None:
            created.append(_previewed(data))
        elif changes := profile_changes(profile, data):
            changed.append(ProfileChange(**_previewed(data).model_dump(), changes=changes))
        else:
            unchanged.append(_previewed(data))
    preview = ImportPreview(
        created=created,
        changed=changed,
        unchanged=unchanged,
        partnerships=_partnerships(session, bundle),
        cohorts=_cohorts(session, bundle),
        exclusions=_exclusions(session, bundle),
        digest="",
    )
    said = preview.model_dump_json(exclude={"digest"}).encode("utf-8")
    return preview.model_copy(update={"digest": hashlib.sha256(said).hexdigest()})


def import_as_previewed(
    *, session: Session, live: LiveIndex | None, draft: Draft, digest: str, accepted_by: str | None
) -> ImportSummary | ImportPreview:
    """Import the draft if it would still do what the preview with `digest` said; else nothing is
    stored and the new preview comes back (`InvalidBundle` if the import would now be refused).

    The preview is made again in the import's own transaction, just before the upsert.
    """
    preview = import_preview(session=session, draft=draft)
    if preview.digest != digest:
        return preview
    return store_checked(session=session, live=live, draft=draft, accepted_by=accepted_by)
