"""The workspace's sign-in rate limit: a sliding window of failed attempts per client address.

The attempts are rows of `sign_in_attempts`, not process memory, so the limit holds across server
workers and restarts. An attempt is stored (and committed) before it is counted: of two attempts
made at once from one address in different workers, the one committed later always counts the
other, so no race lets a client past the limit (at worst both are refused). A refused attempt is
not kept, and a successful one is forgotten; a failed one counts until it leaves the window.

Keys are 256-bit random tokens, so no guessing could succeed anyway: the limit keeps a client from
flooding the server (and its log) with sign-ins. The address is the connection's, or the one
uvicorn takes from `X-Forwarded-For` when the proxy in front is trusted (`--forwarded-allow-ips`);
behind an untrusted proxy every browser shares the proxy's address, and so its limit.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from service.db.engine import session_scope
from service.db.models import SignInAttempt, utcnow

__all__ = ["Attempt", "SignInLimit", "client_address"]


def client_address(request: Request) -> str:
    """Who is signing in, as far as the limit can tell: the client's address."""
    return (request.client.host if request.client else "unknown")[:64]


@dataclass(frozen=True)
class Attempt:
    """A sign-in under way (`id`), or one refused: then `retry_after` says in how many seconds to try again."""

    id: int | None
    retry_after: int | None = None

    @property
    def refused(self) -> bool:
        return self.retry_after is not None


class SignInLimit:
    """At most `attempts` failed sign-ins per client address within any `window_seconds`."""

    def __init__(self, sessions: sessionmaker[Session], *, attempts: int = 10, window_seconds: float = 300) -> None:
        self.sessions = sessions
        self.attempts = attempts
        self.window = timedelta(seconds=window_seconds)

    def begin(self, client: str) -> Attempt:
        """Count a sign-in of this client: an attempt under way, or refused if the client is over the limit."""
        now = utcnow()
        since = now - self.window
        with session_scope(self.sessions) as db:
            db.execute(delete(SignInAttempt).where(SignInAttempt.attempted_at <= since))  # every client's old ones
            row = SignInAttempt(client=client, attempted_at=now)
            db.add(row)
            db.flush()
            attempt_id = row.id
        # committed: from here on every other worker counts this attempt
        with session_scope(self.sessions) as db:
            earlier = db.scalars(
                select(SignInAttempt.attempted_at)
                .where(
                    SignInAttempt.client == client,
                    SignInAttempt.attempted_at > since,
                    SignInAttempt.id != attempt_id,
                )
                .order_by(SignInAttempt.attempted_at, SignInAttempt.id)
            ).all()
            if len(earlier) < self.attempts:
                return Attempt(id=attempt_id)
            db.execute(delete(SignInAttempt).where(SignInAttempt.id == attempt_id))
        # the next attempt passes once enough of the earlier ones have left the window
        frees_at = _aware(earlier[len(earlier) - self.attempts]) + self.window
        return Attempt(id=None, retry_after=max(1, math.ceil((frees_at - now).total_seconds())))

    def forget(self, attempt: Attempt) -> None:
        """A sign-in that succeeded: it does not count against the client."""
        if attempt.id is None:
            return
        with session_scope(self.sessions) as db:
            db.execute(delete(SignInAttempt).where(SignInAttempt.id == attempt.id))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
