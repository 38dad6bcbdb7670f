"""Signed-in browsers: random session tokens mapped in memory to the API key that opened them.

The cookie carries only a random token; the key itself never leaves the server, so signing out (or
revoking the key) ends the session at once. Sessions live in this process: a restart signs everyone
out, and several worker processes would each need the user to sign in (see the README).
"""

import secrets
import threading
import time
from dataclasses import dataclass, field

__all__ = ["Flash", "WebSession", "SessionStore", "SESSION_COOKIE", "LOGIN_COOKIE"]

SESSION_COOKIE = "twinning_session"
# a random value set with the login form and echoed in it, so another site cannot sign a browser in
LOGIN_COOKIE = "twinning_login"


@dataclass(frozen=True)
class Flash:
    """A one-time message shown on the next page, with an optional undo action (a POST form)."""

    text: str
    kind: str = "success"  # success | error | info
    undo_url: str | None = None
    undo_label: str = "Undo"
    back: str | None = None


@dataclass
class WebSession:
    token: str
    secret: str
    csrf: str
    opened: float
    seen: float
    flashes: list[Flash] = field(default_factory=list)


class SessionStore:
    """Thread-safe token → session map with idle and absolute expiry."""

    def __init__(self, *, idle_seconds: float = 8 * 3600, max_seconds: float = 24 * 3600) -> None:
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self._sessions: dict[str, WebSession] = {}
        self._lock = threading.Lock()

    def open(self, secret: str) -> WebSession:
        now = time.monotonic()
        session = WebSession(
            token=secrets.token_urlsafe(32), secret=secret, csrf=secrets.token_urlsafe(32), opened=now, seen=now
        )
        with self._lock:
            self._prune(now)
            self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> WebSession | None:
        if not token:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[token]
                return None
            session.seen = now
            return session

    def close(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def _expired(self, session: WebSession, now: float) -> bool:
        return now - session.seen > self.idle_seconds or now - session.opened > self.max_seconds

    def _prune(self, now: float) -> None:
        for token in [t for t, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[token]
