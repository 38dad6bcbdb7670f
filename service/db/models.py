"""SQLAlchemy 2 typed models: profiles with ordered phrases, partnerships, cohorts, keys, vectors."""

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Base",
    "SortedPair",
    "other_side",
    "Profile",
    "Phrase",
    "Programme",
    "Partnership",
    "PartnershipProposal",
    "Cohort",
    "CohortMember",
    "Exclusion",
    "ShortlistEntry",
    "ApiKey",
    "WorkspaceSession",
    "WorkspaceFlash",
    "NoticeVisit",
    "SignInAttempt",
    "CachedVector",
    "Run",
    "RunSuggestion",
    "RunPhrases",
    "RunLexicon",
    "JobLock",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Profile(Base):
    __tablename__ = "profiles"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2), index=True)
    bloc: Mapped[str] = mapped_column(String(32), index=True)
    org_type: Mapped[str | None] = mapped_column(String(32))
    city: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # indexed: a batch-served list looks up the candidates changed since its run
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow, index=True)

    phrases: Mapped[list["Phrase"]] = relationship(
        back_populates="profile",
        cascade="all, delete-orphan",
        order_by="(Phrase.role, Phrase.position)",
        lazy="selectin",
    )

    # concurrent writers of the same row: the second one's UPDATE matches no row and fails
    __mapper_args__ = {"version_id_col": version}

    def phrase_texts(self, role: str) -> list[str]:
        return [p.text for p in self.phrases if p.role == role]


class Phrase(Base):
    __tablename__ = "phrases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    profile_id: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # interest | offer
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(200))

    profile: Mapped[Profile] = relationship(back_populates="phrases")


def other_side(a: str, b: str, profile_id: str) -> str:
    """The other profile of a stored pair (partnership or exclusion), whose ids are kept sorted."""
    return b if a == profile_id else a


class SortedPair:
    """A row holding a pair of profiles as `a` and `b`, `a` sorting first, so each pair is stored once."""

    def other_than(self, profile_id: str) -> str:
        return other_side(self.a, self.b, profile_id)


class Programme(Base):
    """A cooperation programme (such as "World Cities 2017-18"): its partnerships and cohorts refer to it by id.

    A programme runs one cohort or several; a city takes one partner city per programme, so a
    pairing that gives it a second is confirmed explicitly.
    """

    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Partnership(SortedPair, Base):
    """A pairing both sides agreed to, or a manager (or an import) recorded; `a` sorts before `b`.

    It belongs to a programme and, when a cohort's pairing made it (or it crosses the sides of a
    cohort of its programme), to that cohort: the cohort's board shows it as agreed and keeps it.
    Only a manager may end one that is `held_by_managers`. Proposals waiting for an answer are
    `PartnershipProposal`s, never rows here, so whatever reads partnerships reads agreed ones only.
    """

    __tablename__ = "partnerships"
    __table_args__ = (UniqueConstraint("a", "b", name="uq_partnership_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    a: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    b: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programmes.id", ondelete="SET NULL"), index=True)
    cohort_id: Mapped[str | None] = mapped_column(ForeignKey("cohorts.id", ondelete="SET NULL"), index=True)
    themes: Mapped[list[str]] = mapped_column(JSON, default=list)
    accepted_by: Mapped[str | None] = mapped_column(String(200))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # one side's member proposed it (`proposer`, key `proposed_by`) and the other side's confirmed it
    members_agreed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    proposer: Mapped[str | None] = mapped_column(String(64))
    proposed_by: Mapped[str | None] = mapped_column(String(200))

    programme_row: Mapped[Programme | None] = relationship(lazy="joined")

    @property
    def programme(self) -> str | None:
        """The programme's name, as bundles and answers carry it."""
        return self.programme_row.name if self.programme_row is not None else None

    @property
    def held_by_managers(self) -> bool:
        """A programme's partnership, a manager's, an imported one, or one from before consent was recorded."""
        return not self.members_agreed or self.programme_id is not None


class PartnershipProposal(SortedPair, Base):
    """One side's accept of the other, waiting for the other side (or a manager) to confirm it."""

    __tablename__ = "partnership_proposals"
    __table_args__ = (UniqueConstraint("a", "b", name="uq_partnership_proposal_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    a: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    b: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    proposer: Mapped[str] = mapped_column(String(64))  # a or b: the side whose member proposed it
    proposed_by: Mapped[str] = mapped_column(String(200))  # that member key's label
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def waiting_for(self) -> str:
        """The side whose answer the proposal waits for."""
        return self.other_than(self.proposer)


class Exclusion(SortedPair, Base):
    """A pairing that must never be suggested, in either direction; `a` sorts before `b`.

    Its maker is a side's member (`maker` is that profile, `maker_role` "member") or a manager
    (`maker_role` "manager", an import too); both NULL: made before makers were recorded.
    Only its member maker or a manager removes it.
    """

    __tablename__ = "exclusions"
    __table_args__ = (UniqueConstraint("a", "b", name="uq_exclusion_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    a: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    b: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    maker: Mapped[str | None] = mapped_column(String(64))
    maker_role: Mapped[str | None] = mapped_column(String(16))


class ShortlistEntry(Base):
    """A profile kept on another profile's shortlist, with a note: `profile_id` is the shortlist's owner.

    The shortlist is its profile's member's and the managers'; it goes with its profile. An entry
    naming a profile is another side's: the references rules (`service.domain.references`) keep that
    profile from being deleted under it, except by a manager, whose delete takes the entry with it.
    """

    __tablename__ = "shortlist_entries"
    __table_args__ = (UniqueConstraint("profile_id", "other_id", name="uq_shortlist_entry"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    profile_id: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    other_id: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    note: Mapped[str | None] = mapped_column(String(1000))
    saved_by: Mapped[str] = mapped_column(String(200))  # the key's label that saved or last edited it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Cohort(Base):
    __tablename__ = "cohorts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programmes.id", ondelete="SET NULL"), index=True)
    programme_row: Mapped[Programme | None] = relationship(lazy="joined")
    members: Mapped[list["CohortMember"]] = relationship(
        cascade="all, delete-orphan", order_by="(CohortMember.side, CohortMember.position)", lazy="selectin"
    )

    @property
    def programme(self) -> str | None:
        return self.programme_row.name if self.programme_row is not None else None

    def sides(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for m in self.members:
            out.setdefault(m.side, []).append(m.profile_id)
        return out


class CohortMember(Base):
    __tablename__ = "cohort_members"
    __table_args__ = (UniqueConstraint("cohort_id", "profile_id", name="uq_cohort_member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cohort_id: Mapped[str] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), index=True)
    side: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    profile_id: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))
    profile_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WorkspaceSession(Base):
    """A signed-in browser: the cookie holds a random token, this row only its SHA-256 and the key it opened with.

    `expires_at` is the sooner of the idle limit after `last_seen_at` and the absolute limit after
    `created_at`; a session past it is refused and deleted. It dies with its key's row.
    """

    __tablename__ = "workspace_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class WorkspaceFlash(Base):
    """A one-time message waiting for a session's next page (a row each, so two tabs never lose one)."""

    __tablename__ = "workspace_flashes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("workspace_sessions.id", ondelete="CASCADE"), index=True)
    message: Mapped[dict] = mapped_column(JSON)


class NoticeVisit(Base):
    """A key's last look at its notice board: when, and (for a member) the suggestions its profile had then.

    What is new on the board is new since this row; it dies with its key's row.
    """

    __tablename__ = "notice_visits"

    key_id: Mapped[int] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    visited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    seen_suggestions: Mapped[list[str]] = mapped_column(JSON, default=list)


class SignInAttempt(Base):
    """A workspace sign-in that failed (or is under way), by client address: the rate limit counts them."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (Index("ix_sign_in_attempts_client_attempted_at", "client", "attempted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(64))
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class CachedVector(Base):
    """An embedding keyed by model and the SHA-256 of its normalised text."""

    __tablename__ = "vector_cache"

    model_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class Run(Base):
    """One batch re-ranking: its suggestions are served only once it has succeeded."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    state: Mapped[str] = mapped_column(String(16), index=True)  # running | succeeded | failed
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    model_id: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    progress: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    holder: Mapped[str | None] = mapped_column(String(200))
    # what changed against the run before, computed once when the run finishes: runs never change
    diff: Mapped[dict | None] = mapped_column(JSON)


class RunSuggestion(Base):
    """One suggestion a run stores: a profile's ranking is read by its key, in rank order.

    `detail` holds the score parts, the matched phrases (by position in `RunPhrases`), the themes
    and the terms, as `service.batch.stored_detail` encodes them.
    """

    __tablename__ = "run_suggestions"
    __table_args__ = (
        PrimaryKeyConstraint("run_id", "profile_id", "target", "rank", name="pk_run_suggestions"),
        {"sqlite_with_rowid": False},  # the rows live in the key's b-tree: no second copy of the key
    )

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    profile_id: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer)
    other_id: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    detail: Mapped[bytes] = mapped_column(LargeBinary)


class RunPhrases(Base):
    """A profile's phrases as a run scored them, stored once per run: its suggestions quote them by position.

    `roles` has a letter per text: `i` interest, `o` offer, `d` description sentence.
    """

    __tablename__ = "run_phrases"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    texts: Mapped[list[str]] = mapped_column(JSON)
    roles: Mapped[str] = mapped_column(Text)


class RunLexicon(Base):
    """The TF-IDF statistics a run scored with (`matching.lexical.LexicalStatistics`, packed): the live
    index takes them on once the run is current, so both score a pair's lexical part alike."""

    __tablename__ = "run_lexicons"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    statistics: Mapped[bytes] = mapped_column(LargeBinary)


class JobLock(Base):
    """A named lock row: taken by a conditional UPDATE, which is atomic on SQLite and PostgreSQL."""

    __tablename__ = "job_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
