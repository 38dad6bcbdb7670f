"""The vocabulary every layer shares: profile kinds, phrase roles, organisation types, and what a
candidate filter and a profile's filterable metadata hold.

One definition each: the service's schemas, the API, the pages and the cores all import these.
"""

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

__all__ = ["Kind", "KINDS", "PhraseRole", "OrgType", "ORG_TYPES", "ProfileMeta", "CandidateFilter"]


class Kind(StrEnum):
    CITY = "city"
    ORGANISATION = "organisation"


class PhraseRole(IntEnum):
    """What a phrase of a profile is; the value is the int8 code stored beside its vector."""

    INTEREST = 0
    OFFER = 1
    DESCRIPTION = 2


class OrgType(StrEnum):
    COMPANY = "company"
    UNIVERSITY = "university"
    RESEARCH_CENTRE = "research_centre"
    PUBLIC_AGENCY = "public_agency"
    NGO = "ngo"
    NETWORK = "network"
    OTHER = "other"


ORG_TYPES: tuple[str, ...] = tuple(t.value for t in OrgType)


KINDS: tuple[str, ...] = tuple(k.value for k in Kind)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")


@dataclass(frozen=True)
class ProfileMeta:
    """What a candidate filter can ask about a profile."""

    kind: str  # a Kind value
    bloc: str
    country: str
    org_type: str | None = None
    city: str | None = None  # an organisation's home city (a city profile's key)

    def __post_init__(self) -> None:
        _check_kind(self.kind)


@dataclass(frozen=True)
class CandidateFilter:
    """Which profiles may be suggested: the target kind, and optional restrictions.

    `exclude_bloc` is how city pairings cross blocs: the caller passes the query's own bloc.
    `exclude_keys` holds the query itself, its current partners and explicit exclusions.
    `countries` lets through any of several countries; `city` only organisations based there.
    """

    kind: str  # a Kind value
    bloc: str | None = None
    exclude_bloc: str | None = None
    country: str | None = None
    org_type: str | None = None
    city: str | None = None
    countries: frozenset[str] | None = None
    exclude_keys: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        _check_kind(self.kind)
