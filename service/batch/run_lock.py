"""The lock that keeps two re-ranking runs from overlapping: one row taken by a conditional UPDATE.

The UPDATE is atomic on SQLite and PostgreSQL alike; a holder whose process is gone, or that has
been silent for `TWINNING_LOCK_STALE_SECONDS`, is taken over.
"""

import os
import socket
import uuid
from datetime import datetime, timedelta

import psutil
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from service.db.models import JobLock, utcnow
from service.errors import Conflict

__all__ = ["LOCK_NAME", "new_holder", "holder_is_gone", "take_lock", "release_lock"]

LOCK_NAME = "rerank"


def new_holder() -> str:
    """A holder name that says which host and process holds the lock."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_gone(holder: str, heartbeat: datetime | None, stale_after: float) -> bool:
    """A holder on this host whose process has exited, or any holder silent for too long."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host == socket.gethostname() and pid.isdigit() and not psutil.pid_exists(int(pid)):
        return True
    if heartbeat is None:
        return True
    if heartbeat.tzinfo is None:  # SQLite hands back naive UTC
        heartbeat = heartbeat.replace(tzinfo=utcnow().tzinfo)
    return utcnow() - heartbeat > timedelta(seconds=stale_after)


def take_lock(sessions: sessionmaker[Session], holder: str, stale_after: float) -> None:
    """Take the rerank lock, or raise Conflict naming who holds it."""
    with sessions() as session:
        row = session.get(JobLock, LOCK_NAME)
        if row is None:  # the migration seeds it; a database emptied by hand may lack it
            try:
                session.add(JobLock(name=LOCK_NAME))
                session.commit()
            except IntegrityError:
                session.rollback()
            row = session.get(JobLock, LOCK_NAME)
        current = (row.holder, row.heartbeat_at)
        condition = JobLock.holder.is_(None)
        if current[0] is not None and holder_is_gone(current[0], current[1], stale_after):
            # compare-and-set on the holder we saw, so two takers of a dead lock cannot both win
            condition = JobLock.holder == current[0]
        taken = session.execute(
            update(JobLock).where(JobLock.name == LOCK_NAME, condition).values(holder=holder, heartbeat_at=utcnow())
        ).rowcount
        session.commit()
    if taken != 1:
        raise Conflict(f"a re-ranking run is already in progress (held by {current[0]})")


def release_lock(sessions: sessionmaker[Session], holder: str) -> None:
    with sessions() as session:
        session.execute(
            update(JobLock)
            .where(JobLock.name == LOCK_NAME, JobLock.holder == holder)
            .values(holder=None, heartbeat_at=None)
        )
        session.commit()
