"""A profile's text as the cores see it, whether it comes from the database or from a bundle."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from embeddings import CachedEncoder, split_description
from matching.scoring import Kind
from matching.types import ProfileMeta
from matching.vectors import ProfileVectors
from service.db.models import Phrase, Profile
from service.schemas import ProfileFields

__all__ = ["ProfileText", "profile_vectors", "many_profile_vectors", "all_profile_texts"]


@dataclass(frozen=True)
class ProfileText:
    id: str
    kind: Kind
    name: str
    bloc: str
    country: str
    org_type: str | None
    description: str
    interests: tuple[str, ...]
    offers: tuple[str, ...]
    city: str | None = None  # an organisation's home city (a city profile's id)

    @classmethod
    def from_row(cls, row: Profile) -> "ProfileText":
        return cls(
            id=row.id,
            kind=Kind(row.kind),
            name=row.name,
            bloc=row.bloc,
            country=row.country,
            org_type=row.org_type,
            description=row.description,
            interests=tuple(row.phrase_texts("interest")),
            offers=tuple(row.phrase_texts("offer")),
            city=row.city,
        )

    @classmethod
    def from_fields(cls, id: str, fields: ProfileFields) -> "ProfileText":
        return cls(
            id=id,
            kind=Kind(fields.kind),
            name=fields.name,
            bloc=fields.bloc,
            country=fields.country,
            org_type=fields.org_type,
            description=fields.description,
            interests=tuple(fields.interests),
            offers=tuple(fields.offers),
            city=fields.city,
        )

    @property
    def meta(self) -> ProfileMeta:
        return ProfileMeta(
            kind=self.kind.value, bloc=self.bloc, country=self.country, org_type=self.org_type, city=self.city
        )

    @property
    def whole_text(self) -> str:
        """Description, interests and offers joined: what TF-IDF and the naive baselines see."""
        return " ".join([self.description, *self.interests, *self.offers])

    @property
    def units(self) -> tuple[list[str], list[str], list[str]]:
        """The separately embedded pieces: interests, offers and description sentences."""
        return list(self.interests), list(self.offers), split_description(self.description)


def all_profile_texts(session: Session) -> dict[str, ProfileText]:
    """Every stored profile's text, read with two plain queries: no ORM objects for 100k rows."""
    phrases: dict[str, tuple[list[str], list[str]]] = {}
    rows = session.execute(
        select(Phrase.profile_id, Phrase.role, Phrase.text).order_by(Phrase.profile_id, Phrase.role, Phrase.position)
    )
    for profile_id, role, text in rows:
        interests, offers = phrases.setdefault(profile_id, ([], []))
        (interests if role == "interest" else offers).append(text)
    columns = (
        Profile.id,
        Profile.kind,
        Profile.name,
        Profile.bloc,
        Profile.country,
        Profile.org_type,
        Profile.description,
        Profile.city,
    )
    out = {}
    for pid, kind, name, bloc, country, org_type, description, city in session.execute(
        select(*columns).order_by(Profile.id)
    ):
        interests, offers = phrases.get(pid, ([], []))
        out[pid] = ProfileText(
            pid, Kind(kind), name, bloc, country, org_type, description, tuple(interests), tuple(offers), city
        )
    return out


def many_profile_vectors(encoder: CachedEncoder, profiles: list[ProfileText]) -> list[ProfileVectors]:
    """Encode many profiles in one batch (cache misses only), split back per profile."""
    units = [p.units for p in profiles]
    texts = [t for i, o, d in units for t in (*i, *o, *d)]
    vectors = encoder.encode(texts)
    out, at = [], 0
    for interests, offers, description in units:
        n = len(interests) + len(offers) + len(description)
        out.append(ProfileVectors.from_phrases(interests, offers, description, vectors[at : at + n]))
        at += n
    return out


def profile_vectors(encoder: CachedEncoder, profile: ProfileText) -> ProfileVectors:
    return many_profile_vectors(encoder, [profile])[0]
