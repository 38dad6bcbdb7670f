"""Pydantic shapes of what crosses the API: profiles, bundles and their limits."""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    WithJsonSchema,
    WrapSerializer,
    model_validator,
)

from matching.types import KINDS, ORG_TYPES
from service.batch.run_changes import SCORE_CHANGE

__all__ = [
    "ID_PATTERN",
    "MAX_ROW_ID",
    "row_number",
    "ProfileId",
    "Kind",
    "OrgType",
    "ORG_TYPES",
    "Scope",
    "Country",
    "CountryFilter",
    "Bloc",
    "QueryText",
    "kind_rule_breaches",
    "ProfileFields",
    "ProfileCreate",
    "ProfileReplace",
    "ProfilePatch",
    "ProfileOut",
    "ProfilePage",
    "ProfileReferences",
    "ProfileDeleted",
    "PartnershipIn",
    "PartnershipOut",
    "CohortIn",
    "ExclusionIn",
    "Bundle",
    "ImportSummary",
    "PreviewedProfile",
    "FieldChange",
    "ProfileChange",
    "PreviewTally",
    "ImportPreview",
    "ScoreParts",
    "PhraseMatchOut",
    "ThemeOut",
    "SuggestionOut",
    "SuggestionList",
    "AdhocQuery",
    "ExclusionCreate",
    "RejectBody",
    "ExclusionOut",
    "CohortBody",
    "CohortOut",
    "PairingRequest",
    "PairingOut",
    "PairOut",
    "RegretOut",
    "UnpairedOut",
    "CandidateOut",
    "AcceptRequest",
    "AcceptOut",
    "Timestamp",
    "ProblemField",
    "Problem",
    "HealthOut",
    "RunOut",
    "RunDetail",
    "RunList",
    "RunDiff",
    "KeyCreate",
    "KeyOut",
    "KeyCreated",
]

ID_PATTERN = r"^[a-z0-9._-]{1,64}$"
MAX_DESCRIPTION = 5000
MAX_PHRASES = 50
MAX_PHRASE = 200
# the largest row id or version every database holds: an Integer column is 32 bits on PostgreSQL
MAX_ROW_ID = 2**31 - 1
# control characters (C0, DEL, C1): PostgreSQL cannot store NUL, and none belongs in a name or phrase
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# free text keeps its tabs and line breaks
FREE_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

ProfileId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
# the core's vocabulary (`matching.types`) as the API spells it: the same values, validated and sent as strings
Kind = Literal[KINDS]
OrgType = Literal[ORG_TYPES]
# who an organisation suggestion may be: the asking city's own, its country's, or any
Scope = Literal["local", "national", "any"]


def _iso_country(code: str) -> str:
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def row_number(text: str) -> int | None:
    """`text` as a row id or version, or None: ASCII digits only (`str.isdigit` accepts "²", which `int` refuses)."""
    if re.fullmatch(r"[0-9]{1,10}", text) is None or int(text) > MAX_ROW_ID:
        return None
    return int(text)


def _utc(moment: datetime) -> datetime:
    """A stored moment in UTC: SQLite hands timestamps back without their zone, which was UTC when written."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _utc_out(moment: datetime, handler: SerializerFunctionWrapHandler) -> Any:
    # also when written: answers are built with `model_construct`, which validates nothing
    return handler(_utc(moment))


# every timestamp the API answers with: RFC 3339 in UTC, whichever database stored it
Timestamp = Annotated[datetime, AfterValidator(_utc), WrapSerializer(_utc_out)]


def _one_line(text: str) -> str:
    """Names, phrases, search words: no control character at all, tabs and line breaks included."""
    if found := CONTROL.search(text):
        raise ValueError(f"must not contain control characters (found U+{ord(found.group()):04X})")
    return text


def _free_text(text: str) -> str:
    """Descriptions and reasons: tabs and line breaks are kept, any other control character refused."""
    if found := FREE_TEXT_CONTROL.search(text):
        raise ValueError(
            f"must not contain control characters other than tabs and line breaks (found U+{ord(found.group()):04X})"
        )
    return text


def _clean_phrases(phrases: list[str]) -> list[str]:
    """Drop exact repeats so a phrase is not counted twice in coverage; order is kept."""
    seen: set[str] = set()
    out = []
    for phrase in phrases:
        key = phrase.casefold()
        if key not in seen:
            seen.add(key)
            out.append(phrase)
    return out


# the document lists the codes themselves, so a client (or a generated request) knows which exist
COUNTRY_CODES = sorted(country.alpha_2 for country in pycountry.countries)
Country = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    AfterValidator(_iso_country),
    WithJsonSchema({"type": "string", "enum": COUNTRY_CODES, "description": "ISO 3166-1 alpha-2"}),
]
Bloc = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


# a country asked for in a filter, in either case: the API's query and the page's form read it alike
CountryFilter = Annotated[Country, BeforeValidator(_upper)]
# control characters are looked for after stripping, so surrounding white space never counts
Phrase = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_PHRASE), AfterValidator(_one_line)
]
Phrases = Annotated[list[Phrase], Field(max_length=MAX_PHRASES), AfterValidator(_clean_phrases)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_one_line)]
Description = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_DESCRIPTION), AfterValidator(_free_text)
]
Programme = Annotated[str, StringConstraints(max_length=200), AfterValidator(_one_line)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(_free_text)]
MAX_NOTE = 1000
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_NOTE), AfterValidator(_free_text)]
# a query parameter's words: a search, a filter
QueryText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(_one_line)]


class ProblemField(BaseModel):
    """One broken rule of a problem: where (a JSON pointer) and what; a file's or a form's problems also
    say it in a reader's words."""

    pointer: str = Field(description="e.g. `/interests/3`, `/query/against`, `/headers/If-Match`, `/rows/4/country`")
    detail: str
    where: str | None = Field(
        default=None, description="where, as a person finds it: `row 4, column country`, `profile 2 (“seoul”), city`"
    )
    value: str | None = Field(default=None, description="the offending value as text, shortened")
    message: str | None = Field(default=None, description="what is wrong with the value, in plain words")


class Problem(BaseModel):
    """An error answer (RFC 9457, `application/problem+json`); some carry more members, e.g. `references`."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str = Field(description="the path that was asked for")
    errors: list[ProblemField] = Field(default_factory=list, description="every broken rule, where the input had any")


def kind_rule_breaches(kind: Any, org_type: Any, interests: Any) -> list[tuple[str, str]]:
    """The rules across a profile's fields, what a city and an organisation must have, that the values
    break: each as (field, message). Checked on what was typed too, before the fields themselves pass."""
    if kind == "city":
        breaches = []
        if org_type is not None:
            breaches.append(("org_type", "must be empty for a city: only an organisation has a type"))
        if not interests:
            breaches.append(("interests", "a city needs at least one interest"))
        return breaches
    if kind == "organisation" and org_type is None:
        return [("org_type", f"an organisation needs its type, one of {', '.join(ORG_TYPES)}")]
    return []


class ProfileFields(BaseModel):
    """Everything a profile says about itself, with the rules every write must satisfy."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    name: Name
    country: Country
    bloc: Bloc
    org_type: OrgType | None = None
    city: ProfileId | None = None
    description: Description
    interests: Phrases = Field(default_factory=list)
    offers: Phrases = Field(default_factory=list)

    @model_validator(mode="after")
    def _kind_rules(self) -> "ProfileFields":
        # pydantic takes one error from a model rule: the first; `kind_rule_breaches` gives them all
        for field_name, message in kind_rule_breaches(self.kind, self.org_type, self.interests)[:1]:
            raise ValueError(f"{field_name}: {message}")
        return self


class ProfileCreate(ProfileFields):
    id: ProfileId


class ProfileReplace(ProfileFields):
    """A PUT body: the whole profile; an `id`, if given, must equal the one in the path."""

    id: ProfileId | None = None


class ProfilePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind | None = None
    name: Name | None = None
    country: Country | None = None
    bloc: Bloc | None = None
    org_type: OrgType | None = None
    city: ProfileId | None = None
    description: Description | None = None
    interests: Phrases | None = None
    offers: Phrases | None = None


class ProfileOut(ProfileCreate):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    version: int
    created_at: Timestamp
    updated_at: Timestamp


class ProfilePage(BaseModel):
    items: list[ProfileOut]
    next_cursor: str | None = Field(description="pass as `cursor` to get the next page; null on the last page")
    total: int


class ProfileReferences(BaseModel):
    """What refers to a profile: in a 409, what blocks deleting it; after `?cascade=true`, what went with it."""

    partnerships: list[str] = Field(default_factory=list, description="partners' ids")
    proposals: list[str] = Field(default_factory=list, description="the other sides of pending proposals")
    exclusions: list[str] = Field(default_factory=list, description="the other sides of exclusions")
    cohorts: list[str] = Field(default_factory=list, description="cohorts it was a member of")
    organisations: list[str] = Field(
        default_factory=list, description="organisations based in it (their `city` is cleared when it goes)"
    )
    shortlist: list[str] = Field(
        default_factory=list, description="the profiles on its own shortlist (which always goes with it)"
    )
    shortlisted: int = Field(
        default=0, description="entries on other profiles' shortlists that name it (whose is theirs alone to know)"
    )

    def empty(self) -> bool:
        return not (
            self.partnerships
            or self.proposals
            or self.exclusions
            or self.cohorts
            or self.organisations
            or self.shortlist
            or self.shortlisted
        )


class ProfileDeleted(BaseModel):
    """The answer to a manager's `DELETE /profiles/{id}?cascade=true`."""

    deleted: str
    removed: ProfileReferences
    keys_revoked: int = Field(description="member keys bound to it, which die with it")


class PartnershipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    a: ProfileId
    b: ProfileId
    programme: Programme | None = None
    themes: Annotated[list[Phrase], Field(max_length=MAX_PHRASES)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _distinct(self) -> "PartnershipIn":
        if self.a == self.b:
            raise ValueError("a profile cannot be its own partner")
        return self


class CohortIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: ProfileId | None = None
    name: Name
    programme: Programme | None = None
    sides: dict[Bloc, list[ProfileId]]

    @model_validator(mode="after")
    def _sides(self) -> "CohortIn":
        if len(self.sides) < 2:
            raise ValueError("sides: a cohort needs at least two sides")
        seen: set[str] = set()
        for members in self.sides.values():
            for member in members:
                if member in seen:
                    raise ValueError(f"sides: {member!r} is on more than one side")
                seen.add(member)
        return self


class ExclusionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: ProfileId
    excluded: ProfileId
    reason: Annotated[str, StringConstraints(max_length=500), AfterValidator(_free_text)] | None = None


class Bundle(BaseModel):
    """A validated `twinning.bundle/1` document; unknown top-level keys are ignored."""

    model_config = ConfigDict(extra="ignore")

    format: Literal["twinning.bundle/1"]
    profiles: list[ProfileCreate] = Field(default_factory=list)
    partnerships: list[PartnershipIn] = Field(default_factory=list)
    cohorts: list[CohortIn] = Field(default_factory=list)
    exclusions: list[ExclusionIn] = Field(default_factory=list)


class ImportSummary(BaseModel):
    profiles_created: int
    profiles_updated: int
    profiles_unchanged: int
    partnerships: int
    cohorts: int
    exclusions: int


class PreviewedProfile(BaseModel):
    """A profile of a file as an import preview lists it."""

    id: str
    name: str
    kind: str
    country: str


class FieldChange(BaseModel):
    """One field an import changes in a stored profile: a value's `before` and `after`, or the phrases
    of `interests` or `offers` it adds and removes (neither, when only their order changes)."""

    field: str
    before: str | None = None
    after: str | None = None
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)


class ProfileChange(PreviewedProfile):
    changes: list[FieldChange]


class PreviewTally(BaseModel):
    created: int = 0
    changed: int = 0
    unchanged: int = 0


class ImportPreview(BaseModel):
    """What importing a file would do to what is stored now, before anything is."""

    created: list[PreviewedProfile]
    changed: list[ProfileChange]
    unchanged: list[PreviewedProfile]
    partnerships: PreviewTally
    cohorts: PreviewTally
    exclusions: PreviewTally
    digest: str = Field(description="SHA-256 of everything above: the same while the import would do the same")


class IndexStatus(BaseModel):
    ready: bool = Field(description="false until the live index is built; suggestions wait for it")
    profiles: int | None = None
    model: str | None = Field(default=None, description="the encoder's model id")
    ranker: str | None = Field(default=None, description="what ranks: the learned ranker or the hand-set blend")


class HealthOut(BaseModel):
    status: Literal["ok"]
    database: str = Field(description="the database's dialect: sqlite or postgresql")
    index: IndexStatus


class RunOut(BaseModel):
    """A batch re-ranking; only a succeeded one is served. A run whose process could not start is failed."""

    id: int
    state: Literal["queued", "running", "succeeded", "failed"]
    started_at: Timestamp
    finished_at: Timestamp | None
    model_id: str
    params: dict[str, Any]
    counts: dict[str, Any]
    progress: dict[str, Any]
    error: str | None


class RunDetail(RunOut):
    previous: int | None = Field(description="the succeeded run before this one, if any")


class RunList(BaseModel):
    items: list[RunOut] = Field(description="newest first")


class RankedOut(BaseModel):
    id: str
    rank: int
    score: float


class ScoreChangeOut(BaseModel):
    id: str
    rank: int = Field(description="its rank in this run")
    before: float = Field(description="its score in the earlier run")
    score: float = Field(description="its score in this run")


class RunChange(BaseModel):
    profile: str
    target: Kind
    came_in: list[RankedOut] = Field(description="in this run's top-k, not the earlier run's: rank and score now")
    left: list[RankedOut] = Field(description="in the earlier run's top-k, not this one's: rank and score then")
    score_changed: list[ScoreChangeOut] = Field(
        description=f"in both, its score moved by more than {SCORE_CHANGE}; a rank that only shifted is no change"
    )


class RunDiff(BaseModel):
    run: int
    against: int
    profiles_changed: int
    changes: list[RunChange] = Field(
        description="per profile and target where something changed: suggestions that came in, left, or were rescored"
    )


class ProposalNotice(BaseModel):
    """A proposal waiting for a profile's answer."""

    profile: str = Field(description="the side whose answer it waits for")
    profile_name: str
    proposer: str = Field(description="the side whose member proposed it")
    proposer_name: str
    proposed_by: str = Field(description="the proposing member key's label")
    created_at: Timestamp
    new: bool = Field(description="whether it came after the last visit")


class SuggestionNotice(BaseModel):
    """A suggestion a profile had not had at its member's last visit."""

    id: str
    name: str
    rank: int
    score: float


class RunNotice(BaseModel):
    """What the current run changed for a profile against the succeeded run before it."""

    run: int
    finished_at: Timestamp | None
    against: int | None = Field(description="the run compared with; null for the first run")
    since_visit: bool = Field(description="whether it finished after the last visit")
    changes: list[RunChange] = Field(description="the profile's changes, per target")


class NoticeBoard(BaseModel):
    """What waits for the asking key: for a member, its profile's; for a manager, the programme's."""

    profile: str | None = Field(description="the member's profile; null for managers and admins")
    last_visit: Timestamp | None = Field(description="when the key last marked its notices seen")
    waiting: list[ProposalNotice] = Field(description="proposals waiting for an answer, oldest first")
    new_suggestions: list[SuggestionNotice] = Field(
        description="a member's partner-city suggestions (default list) that it did not have at its last visit"
    )
    suggested: list[str] = Field(description="a member's current default list, by id: what a visit marks seen")
    last_run: RunNotice | None = Field(description="for a member: what the current run changed for its profile")
    runs_finished: list[RunOut] = Field(
        description="for managers: runs that finished since the last visit, newest first"
    )
    count: int = Field(
        description="notices that are new: waiting proposals, new suggestions, a new run's changes or runs"
    )


class ScoreParts(BaseModel):
    dense: float = Field(description="semantic score: coverage, fused both ways for city pairings")
    lexical: float = Field(description="TF-IDF cosine of the two whole texts")
    forward: float = Field(description="how well the candidate covers the asking profile's needs")
    backward: float | None = Field(description="how well the asking city covers the candidate city's interests")
    handset: float | None = Field(
        default=None, description="the hand-set score (0.8 dense + 0.2 lexical), beside the learned one"
    )
    features: dict[str, float] = Field(
        default_factory=dict, description="the learned ranker's inputs (matching/features.py)"
    )
    contributions: dict[str, float] = Field(
        default_factory=dict,
        description="each feature's share of the learned score: score = logistic(their sum), "
        "0.5 for the list's average candidate",
    )


class PhraseMatchOut(BaseModel):
    need: str
    need_role: str
    match: str
    match_role: str
    similarity: float
    direction: Literal["forward", "backward"]
    close: bool = Field(
        default=True, description="false below the similarity that means something: shown as no close match"
    )


class ThemeOut(BaseModel):
    id: str
    label: str


class SuggestionOut(BaseModel):
    rank: int
    id: str
    name: str
    kind: str
    bloc: str
    country: str
    org_type: str | None
    score: float
    parts: ScoreParts
    reasons: list[str] = Field(default_factory=list, description="the score's parts and priors in words, largest first")
    matches: list[PhraseMatchOut]
    shared_themes: list[ThemeOut]
    shared_terms: list[str]
    proposal: Literal["sent", "received"] | None = Field(
        default=None,
        description="a partnership proposal between the two: sent by the asking profile (waiting for this one), "
        "or received from this one (waiting for the asking profile's answer)",
    )
    fresh: bool = Field(
        default=False,
        description="in a batch-served list: created or changed since the run, so scored live and merged in",
    )


class SuggestionList(BaseModel):
    profile: str | None
    target: Kind
    source: Literal["live", "batch"] = "live"
    run_id: int | None = None
    computed_at: Timestamp | None = None
    items: list[SuggestionOut]


class AdhocQuery(BaseModel):
    """A profile not stored yet, asking who would fit."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind = "city"
    name: Name = "ad-hoc query"
    bloc: Bloc | None = None
    country: Country | None = None
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=MAX_DESCRIPTION), AfterValidator(_free_text)
    ] = ""
    interests: Phrases = Field(default_factory=list)
    offers: Phrases = Field(default_factory=list)
    target: Kind = "city"
    k: Annotated[int, Field(ge=1, le=100)] = 10
    target_bloc: Bloc | None = None
    target_country: Country | None = None
    org_type: OrgType | None = None
    diversity: Annotated[float, Field(ge=0, le=1)] = 0.0
    exclude: Annotated[list[ProfileId], Field(max_length=1000)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something_to_match(self) -> "AdhocQuery":
        if not (self.interests or self.offers or self.description):
            raise ValueError("interests: give interests, offers or a description to match on")
        return self


class ExclusionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    excluded: ProfileId
    reason: Reason | None = None


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason | None = None


class ShortlistNote(BaseModel):
    """What is saved with a shortlisted profile: a free-text note (tabs and line breaks kept)."""

    model_config = ConfigDict(extra="forbid")

    note: Note | None = Field(default=None, description=f"at most {MAX_NOTE} characters; empty for none")


class ShortlistEntryOut(BaseModel):
    """A profile on another profile's shortlist, seen by that profile's member and by managers."""

    profile: str = Field(description="whose shortlist it is")
    other: str = Field(description="the profile kept on it")
    name: str = Field(description="the kept profile's name")
    kind: Literal["city", "organisation"]
    note: str | None
    saved_by: str = Field(description="the key that saved it or last changed its note")
    created_at: Timestamp
    updated_at: Timestamp


class SuggestionDecisions(BaseModel):
    """One decision on several suggestions: accept (propose) them all, or reject (exclude) them all with one reason."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["accept", "reject"] = Field(
        description="accept: as POST …/suggestions/{other}/accept each; reject: as POST …/suggestions/{other}/reject"
    )
    others: Annotated[list[ProfileId], Field(min_length=1, max_length=100)] = Field(
        description="the suggested profiles, each decided on its own, in this order"
    )
    reason: Reason | None = Field(default=None, description="for reject: the one reason every exclusion records")

    @model_validator(mode="after")
    def _once_each(self) -> "SuggestionDecisions":
        seen: set[str] = set()
        for other in self.others:
            if other in seen:
                raise ValueError(f"others: {other!r} is named twice")
            seen.add(other)
        if self.reason and self.action != "reject":
            raise ValueError("reason: only a reject records a reason")
        return self


class DecisionOutcome(BaseModel):
    """What one decision of a batch did, or the problem that stopped it (as the single decision would answer)."""

    other: str
    outcome: Literal["proposed", "agreed", "excluded", "refused"] = Field(
        description="proposed: waits for the other side or a manager; agreed: a partnership; "
        "excluded: never suggested again; refused: nothing changed, see status and detail"
    )
    status: int = Field(description="the status the single decision answers with: 200, or its 4xx problem's")
    title: str | None = Field(default=None, description="the problem's title, when refused")
    detail: str | None = Field(default=None, description="the problem's detail, when refused")
    errors: list[ProblemField] = Field(default_factory=list)


class DecisionReport(BaseModel):
    profile: str
    action: Literal["accept", "reject"]
    items: list[DecisionOutcome] = Field(description="one per profile in `others`, in its order")


class ExclusionOut(BaseModel):
    """An exclusion as one side sees it: the other side learns that it exists, never its reason nor its key."""

    profile: str
    excluded: str
    reason: str | None = Field(description="shown to its maker's side and to managers only")
    created_by: str | None = Field(description="the key that made it; shown to its maker's side and to managers only")
    created_at: Timestamp
    maker: str | None = Field(description="the profile whose member made it; null if a manager did, or it is older")
    maker_role: Literal["member", "manager"] | None = Field(
        description="who made it; null: made before makers were recorded (only managers remove it)"
    )
    removable: bool = Field(description="whether the asking key may remove it: its member maker and managers may")


class PartnershipOut(BaseModel):
    """A profile's partnership, agreed or proposed, as that profile sees it."""

    profile: str
    partner: str
    state: Literal["agreed", "proposed"]
    proposer: str | None = Field(description="the side whose member proposed it; null if a manager recorded it")
    waiting_for: str | None = Field(description="for a proposal: the side whose answer it waits for")
    programme: str | None
    themes: list[str]
    accepted_by: str | None
    accepted_at: Timestamp | None
    created_at: Timestamp
    held_by_managers: bool = Field(
        description="a programme's, a manager's or an imported partnership: only a manager may end it"
    )
    removable: bool = Field(
        description="whether the asking key may remove it (withdraw or decline a proposal, end a partnership)"
    )


class CohortBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    programme: Programme | None = Field(
        default=None,
        description="the programme whose partnerships it pairs; omitted: the one its members' partnerships "
        "share, else a programme named as the cohort when a pairing is first accepted",
    )
    sides: dict[Bloc, list[ProfileId]]

    @model_validator(mode="after")
    def _sides(self) -> "CohortBody":
        CohortIn(name=self.name, sides=self.sides)
        return self


class CohortOut(BaseModel):
    id: str
    name: str
    programme: str | None
    sides: dict[str, list[str]]


Pair = Annotated[list[ProfileId], Field(min_length=2, max_length=2, description="[a, b]")]


class PairingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    capacity: dict[ProfileId, Annotated[int, Field(ge=0, le=100)]] = Field(
        default_factory=dict, description="partners a city may take (default 1)"
    )
    lock: list[Pair] = Field(default_factory=list, description="agreed pairs, kept")
    forbid: list[Pair] = Field(default_factory=list, description="pairs never to propose")
    min_score: Annotated[float, Field(ge=0, le=1)] = 0.0
    partnerships: Literal["auto", "ignore"] = Field(
        "auto",
        description="auto: pairs accepted for this cohort stay locked, other known partnerships are forbidden; "
        "ignore: pair from scratch",
    )


class PairOut(BaseModel):
    a: str
    b: str
    a_name: str
    b_name: str
    score: float
    locked: bool
    matches: list[PhraseMatchOut]
    shared_themes: list[ThemeOut]


class RegretOut(BaseModel):
    city: str
    best: str
    best_score: float
    assigned_score: float | None
    gap: float
    reason: str


class CandidateOut(BaseModel):
    id: str
    score: float


class UnpairedOut(BaseModel):
    id: str
    reason: str = Field(description="why the pairing leaves it out, in a sentence")
    best_options: list[CandidateOut]


class SecondPartnerOut(BaseModel):
    """A proposed pair that would give a city a second partner city in the cohort's programme."""

    city: str
    partner: str = Field(description="the partner the pair proposes")
    already: list[str] = Field(description="the city's partner cities in the programme already")


class PairingOut(BaseModel):
    cohort: str
    programme: str | None
    total: float
    pairs: list[PairOut]
    unpaired: list[UnpairedOut]
    regrets: list[RegretOut]
    second_partners: list[SecondPartnerOut] = Field(
        description="accepting these pairs needs allow_second_partner: each gives a city a second partner city "
        "in the programme"
    )


class AcceptRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pairs: Annotated[list[Pair], Field(min_length=1, max_length=10_000)]
    allow_second_partner: bool = Field(
        default=False,
        description="store pairs that give a city a second partner city in the programme (409 without it)",
    )


class AcceptOut(BaseModel):
    cohort: str
    accepted: int = Field(description="pairs now agreed partnerships")
    created: int = Field(description="of those, partnerships that did not exist before")
    accepted_by: str
    state: Literal["agreed", "proposed"] = Field(
        default="agreed", description="proposed: a member's accept waits for the other side or a manager to confirm it"
    )
    waiting_for: str | None = Field(default=None, description="for a proposal: the side whose answer it waits for")


class KeyCreate(BaseModel):
    """A new API key: a member key speaks for one profile (which may be created later, with the key)."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["admin", "manager", "member"]
    profile_id: ProfileId | None = Field(default=None, description="the profile a member key speaks for")
    name: Name | None = Field(default=None, description="who holds the key; pair decisions record it")


class KeyOut(BaseModel):
    """An API key as an admin sees it: never its secret, only the first characters to recognise it by."""

    id: int
    role: Literal["admin", "manager", "member"]
    name: str | None
    label: str = Field(description="what pair decisions record of the key: its name, or key-<id>")
    profile_id: str | None = Field(description="the profile a member key speaks for")
    prefix: str = Field(description="the secret's first characters, e.g. `tw_Ab3dE9x`")
    created_at: Timestamp
    revoked_at: Timestamp | None = Field(description="when it was revoked; a revoked key is refused everywhere")


class KeyCreated(KeyOut):
    secret: str = Field(description="the key itself: shown in this answer only, never stored nor shown again")
