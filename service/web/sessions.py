"""Signed-in browsers: sessions stored in the database, so every server process and a restart know them.

The cookie carries a random token (256 bits); the `workspace_sessions` row stores only its SHA-256,
the id of the API key that opened it, and when it was opened, last seen and ends. The key's secret
is never stored: each request reads the key's row, so revoking the key (or signing out, which
deletes the row) ends the session at once in every process. A session ends after
`session_idle_seconds` unused or `session_max_seconds` after sign-in; an expired one is refused and
deleted, and each sign-in prunes every expired one. The form token (CSRF) is derived from the
cookie's token, so it is never stored either.
"""

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from service.db.engine import session_scope
from service.db.models import WorkspaceFlash, WorkspaceSession, utcnow

__all__ = ["Flash", "WebSession", "SessionStore", "SESSION_COOKIE", "LOGIN_COOKIE", "token_hash"]

SESSION_COOKIE = "twinning_session"
# a random value set with the login form and echoed in it, so another site cannot sign a browser in
LOGIN_COOKIE = "twinning_login"


def token_hash(token: str) -> str:
    """What the table stores of a cookie's token: the token is 256 random bits, so a fast hash is enough."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(moment: datetime) -> datetime:
    """A stored time as an aware UTC one (SQLite hands back naive UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Flash:
    """A one-time message shown on the next page, with an optional undo action (a POST form)."""

    text: str
    kind: str = "success"  # success | error | info
    undo_url: str | None = None
    undo_label: str = "Undo"
    back: str | None = None

    @classmethod
    def from_stored(cls, message: dict[str, Any]) -> "Flash":
        return cls(**{k: v for k, v in message.items() if k in cls.__dataclass_fields__})


@dataclass
class WebSession:
    """One request's view of a session: its messages waiting to be shown, and those the request adds.

    What changes is written by `SessionStore.save` once the page is made, so a message queued
    before a redirect is stored before the browser asks for the next page.
    """

    id: int
    token: str
    key_id: int
    waiting: dict[int, Flash] = field(default_factory=dict)  # stored rows, by id
    added: list[Flash] = field(default_factory=list)
    shown: list[int] = field(default_factory=list)

    @property
    def csrf(self) -> str:
        # bound to the cookie's token: a page of another session (or another site) cannot know it
        return hmac.new(self.token.encode("utf-8"), b"twinning form", hashlib.sha256).hexdigest()

    def add_flash(self, flash: Flash) -> None:
        self.added.append(flash)

    def take_flashes(self) -> list[Flash]:
        """The messages to show now, in order; they are not shown again."""
        taken = list(self.waiting.values()) + self.added
        self.shown += list(self.waiting)
        self.waiting, self.added = {}, []
        return taken

    @property
    def changed(self) -> bool:
        return bool(self.added or self.shown)


class SessionStore:
    """Workspace sessions in the database: open at sign-in, look up by cookie, save messages, close."""

    def __init__(
        self, sessions: sessionmaker[Session], *, idle_seconds: float = 8 * 3600, max_seconds: float = 24 * 3600
    ) -> None:
        self.sessions = sessions
        self.idle = timedelta(seconds=idle_seconds)
        self.max = timedelta(seconds=max_seconds)
        # last-seen is written at most this often, so reading a page is not a write each time; the
        # idle limit is kept to within this much
        self.touch_every = min(timedelta(seconds=60), self.idle / 8)

    def open(self, key_id: int) -> WebSession:
        """A new session for the key (prunes every expired one on the way)."""
        token, now = secrets.token_urlsafe(32), utcnow()
        with session_scope(self.sessions) as db:
            self._prune(db, now)
            row = WorkspaceSession(
                token_hash=token_hash(token),
                key_id=key_id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + min(self.idle, self.max),
            )
            db.add(row)
            db.flush()
            return WebSession(id=row.id, token=token, key_id=key_id)

    def get(self, token: str | None) -> WebSession | None:
        """The live session the cookie's token opens, or None; an expired one is deleted."""
        if not token:
            return None
        now = utcnow()
        with session_scope(self.sessions) as db:
            row = db.scalar(select(WorkspaceSession).where(WorkspaceSession.token_hash == token_hash(token)))
            if row is None:
                return None
            if _aware(row.expires_at) <= now:
                db.delete(row)
                return None
            if now - _aware(row.last_seen_at) >= self.touch_every:
                row.last_seen_at = now
                row.expires_at = min(_aware(row.created_at) + self.max, now + self.idle)
            waiting = db.execute(
                select(WorkspaceFlash.id, WorkspaceFlash.message)
                .where(WorkspaceFlash.session_id == row.id)
                .order_by(WorkspaceFlash.id)
            ).all()
            return WebSession(
                id=row.id,
                token=token,
                key_id=row.key_id,
                waiting={flash_id: Flash.from_stored(message) for flash_id, message in waiting},
            )

    def save(self, web: WebSession) -> None:
        """Drop the messages shown and store the ones added; nothing if the session ended meanwhile."""
        if not web.changed:
            return
        try:
            with session_scope(self.sessions) as db:
                if web.shown:
                    db.execute(
                        delete(WorkspaceFlash).where(
                            WorkspaceFlash.session_id == web.id, WorkspaceFlash.id.in_(web.shown)
                        )
                    )
                if web.added:
                    db.execute(
                        insert(WorkspaceFlash), [{"session_id": web.id, "message": asdict(f)} for f in web.added]
                    )
        except IntegrityError:
            pass  # signed out in another tab while this page was made: its messages went with it
        web.added, web.shown = [], []

    def close(self, token: str | None) -> None:
        """Sign out: the row goes, and with it the session in every process."""
        if not token:
            return
        with session_scope(self.sessions) as db:
            db.execute(delete(WorkspaceSession).where(WorkspaceSession.token_hash == token_hash(token)))

    def prune(self) -> int:
        """Delete every expired session; returns how many."""
        with session_scope(self.sessions) as db:
            return self._prune(db, utcnow())

    @staticmethod
    def _prune(db: Session, now: datetime) -> int:
        return db.execute(delete(WorkspaceSession).where(WorkspaceSession.expires_at <= now)).rowcount
