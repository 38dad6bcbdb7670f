"""Profiles: list, read, create, replace, patch and delete; every write commits and keeps the live index in step."""

import unicodedata

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.auth import Principal
from service.db import store
from service.db.models import Profile
from service.domain import references
from service.errors import AlreadyExists, FieldProblem, InvalidInput, validation_problems
from service.live.index import LiveIndex
from service.live.places import country_code, country_name
from service.schemas import ProfileCreate, ProfileDeleted, ProfileFields, ProfileOut, ProfilePatch

__all__ = [
    "profile_out",
    "get_profile",
    "list_profiles",
    "search_profile_ids",
    "country_choices",
    "country_code",
    "create_profile",
    "replace_profile",
    "patch_profile",
    "delete_profile",
]


def profile_out(profile: Profile) -> ProfileOut:
    """A stored profile as the API returns it."""
    return store.profile_out(profile)


def get_profile(*, session: Session, profile_id: str) -> Profile:
    """The stored profile; `ProfileNotFound` without one. Reading a profile is open to every key."""
    return store.get_profile(session, profile_id)


def list_profiles(
    *,
    session: Session,
    kind: str | None = None,
    bloc: str | None = None,
    country: str | None = None,
    org_type: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: int,
) -> tuple[list[Profile], str | None, int]:
    """One page of profiles ordered by id, the cursor of the next page, and the number of matches.

    Bloc and country codes match in either case; `q` is the full-text search of `search_profile_ids`.
    """
    return store.list_profiles(
        session, kind=kind, bloc=bloc, country=country, org_type=org_type, q=q, cursor=cursor, limit=limit
    )


def search_profile_ids(*, session: Session, q: str, names_only: bool = False) -> set[str]:
    """The ids of the profiles whose name, description, interests or offers (only names, with
    `names_only`) the words `q` find.

    Case and accents do not count, every word must be found as the start of a word, and two words
    written as one find them apart and the other way round; the whole rule: `service.db.search`.
    """
    return store.search_profile_ids(session, q, names_only=names_only)


def country_choices(*, session: Session, chosen: str | None = None) -> list[tuple[str, str]]:
    """The countries stored profiles are in, and `chosen` (a code) if no profile is, as (code, English
    name from CLDR) ordered by name: what a country picker offers."""
    codes = set(store.countries_in_use(session)) | ({chosen} if chosen else set())
    choices = [(code, country_name(code)) for code in codes]
    # decomposed, an accented letter sorts with its plain one: Côte d'Ivoire before Cuba
    return sorted(choices, key=lambda c: unicodedata.normalize("NFKD", c[1]).casefold())


def create_profile(*, session: Session, live: LiveIndex, principal: Principal, data: ProfileCreate) -> Profile:
    """Store a new profile and index it; a manager or an admin may create any, a member only the profile it speaks for.

    An id already stored is `AlreadyExists`, and so is the later of two requests creating one id at once;
    a reference that breaks a rule of `service.domain.references` is `InvalidInput`.
    """
    principal.require_writer_of(data.id)
    references.require_profile_references(session, profile_id=data.id, data=data)
    try:
        profile = store.create_profile(session, data)
        session.commit()
    except IntegrityError:
        # another request created the same id between our check and our insert: it came first
        session.rollback()
        if store.profiles_by_ids(session, [data.id]):
            raise AlreadyExists(
                f"a profile with id {data.id!r} exists (it was created while yours was under way)",
                [FieldProblem("/id", "already taken")],
            ) from None
        raise
    live.profiles_changed([profile.id])
    return profile


def replace_profile(
    *, session: Session, live: LiveIndex, principal: Principal, profile_id: str, data: ProfileFields, version: int
) -> Profile:
    """Replace every field of a profile still at `version` (else `VersionConflict`), and re-index it; a
    reference that breaks a rule of `service.domain.references` is `InvalidInput`."""
    principal.require_writer_of(profile_id)
    store.profile_at_version(session, profile_id, version)
    references.require_profile_references(session, profile_id=profile_id, data=data)
    profile = store.replace_profile(session, profile_id, data, version)
    session.commit()
    live.profiles_changed([profile_id])
    return profile


def patch_profile(
    *, session: Session, live: LiveIndex, principal: Principal, profile_id: str, body: ProfilePatch, version: int
) -> Profile:
    """Change the fields given; the merged profile must meet every rule a whole one does (a city keeps interest)."""
    principal.require_writer_of(profile_id)
    current = store.profile_out(store.get_profile(session, profile_id)).model_dump(
        exclude={"id", "version", "created_at", "updated_at"}
    )
    try:
        data = ProfileFields.model_validate(current | body.model_dump(exclude_unset=True))
    except ValidationError as exc:
        raise InvalidInput(
            "the patched profile breaks a rule; nothing was changed", validation_problems(exc.errors())
        ) from None
    return replace_profile(
        session=session, live=live, principal=principal, profile_id=profile_id, data=data, version=version
    )


def delete_profile(
    *, session: Session, live: LiveIndex, principal: Principal, profile_id: str, version: int, cascade: bool = False
) -> ProfileDeleted:
    """Delete a profile still at `version` and drop it from the index; its member keys die with it.

    One that others refer to only a manager deletes, with `cascade` (the rules: `service.domain.references`).
    Returns what went with it.
    """
    principal.require_writer_of(profile_id)
    profile = store.profile_at_version(session, profile_id, version)
    deleted = references.delete_profile(session=session, principal=principal, profile=profile, cascade=cascade)
    session.commit()
    live.profiles_changed([profile_id, *deleted.removed.organisations])
    return deleted
