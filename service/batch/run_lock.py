"""The lock that keeps two re-ranking runs from overlapping: one row taken by a conditional UPDATE.

The UPDATE is atomic on SQLite and PostgreSQL alike; a holder whose process is gone, or that has
been silent for `TWINNING_LOCK_STALE_SECONDS`, is taken over. The holder string is unique per run
and is its fencing token: whatever a run writes that must not outlive its lock (its progress, the
transaction that makes it current) is conditional on the lock row still naming it, so a run that
was taken over can go on computing but can never make its result the served one.

A run's `Heartbeat` refreshes the lock on a timer of its own while the run lives, whatever its
stage is doing, so a slow stage is never mistaken for a dead run.
"""

import logging
import os
import socket
import threading
import uuid
from datetime import datetime

import psutil
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.db.models import JobLock, utcnow
from service.errors import Conflict

__all__ = [
    "LOCK_NAME",
    "Heartbeat",
    "age_seconds",
    "heartbeat_interval",
    "holder_is_gone",
    "holder_pid",
    "holder_prefix",
    "holder_process_is_gone",
    "new_holder",
    "refresh_lock",
    "release_lock",
    "take_lock",
]

LOCK_NAME = "rerank"
HEARTBEAT_SECONDS = 5.0

log = logging.getLogger(__name__)


def holder_prefix(pid: int) -> str:
    """How every holder name of process `pid` on this host begins."""
    return f"{socket.gethostname()}:{pid}:"


def new_holder(pid: int | None = None) -> str:
    """A holder name that says which host and process holds the lock (this one unless `pid` is given)."""
    return f"{holder_prefix(os.getpid() if pid is None else pid)}{uuid.uuid4().hex[:8]}"


def holder_pid(holder: str) -> int | None:
    """The process id a holder names, if it names one on this host."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    return int(pid) if host == socket.gethostname() and pid.isdigit() else None


def holder_process_is_gone(holder: str) -> bool:
    """The holder names a process on this host that has exited (a zombie has exited too)."""
    pid = holder_pid(holder)
    if pid is None:
        return False
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def age_seconds(moment: datetime) -> float:
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=utcnow().tzinfo)
    return (utcnow() - moment).total_seconds()


def holder_is_gone(holder: str, heartbeat: datetime | None, stale_after: float) -> bool:
    """A holder on this host whose process has exited, or any holder silent for too long."""
    return holder_process_is_gone(holder) or heartbeat is None or age_seconds(heartbeat) > stale_after


def heartbeat_interval(stale_after: float) -> float:
    """How often a run refreshes its lock: every few seconds, and several times within the stale limit."""
    return min(HEARTBEAT_SECONDS, stale_after / 4)


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


def refresh_lock(session: Session, holder: str) -> bool:
    """Refresh the heartbeat if the lock still names `holder`, in the caller's transaction: the fence."""
    refreshed = session.execute(
        update(JobLock).where(JobLock.name == LOCK_NAME, JobLock.holder == holder).values(heartbeat_at=utcnow())
    )
    return refreshed.rowcount == 1


def release_lock(sessions: sessionmaker[Session], holder: str) -> None:
    with sessions() as session:
        session.execute(
            update(JobLock)
            .where(JobLock.name == LOCK_NAME, JobLock.holder == holder)
            .values(holder=None, heartbeat_at=None)
        )
        session.commit()


class Heartbeat:
    """A daemon thread that refreshes a holder's lock every `every` seconds until stopped or the lock is lost.

    A refresh that fails on a database error is tried again at the next beat: if the database stays
    away longer than the stale limit, the lock is taken over and the fence stops the run.
    """

    def __init__(self, sessions: sessionmaker[Session], holder: str, every: float) -> None:
        self.sessions, self.holder, self.every = sessions, holder, every
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{holder}", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def check(self) -> None:
        """Raise Conflict once a beat has found the lock in other hands."""
        if self.lost.is_set():
            raise Conflict(f"the run lost its lock ({self.holder}): another run has taken over")

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                with self.sessions() as session:
                    # autocommit: the refresh is one statement the database commits as it runs, so a
                    # process frozen mid-beat holds no transaction, and no lock a taker would wait on
                    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
                    held = refresh_lock(session, self.holder)
            except SQLAlchemyError:
                log.warning("heartbeat of %s failed; trying again in %.1f s", self.holder, self.every, exc_info=True)
                continue
            if not held:
                self.lost.set()
                return
