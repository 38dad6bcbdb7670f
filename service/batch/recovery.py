"""Runs whose owner died: whoever looks at runs next marks them failed, so none stays queued or running for good.

A running run is owned by the process holding the rerank lock under the run's holder; a queued run
by the process the server spawned for it (its pid is written on the run as soon as it is spawned).
Every reader marks failed what is certainly dead: a running run whose lock names someone else or no
one, or whose process is gone from this host; a queued run whose process is gone. A starter, which
has to decide whether to take over, passes `stale_after` and also counts as dead a running run whose
lock has been silent that long, and a queued run that no process has picked up in that time.

Each run is failed by an UPDATE conditional on the state and holder that were judged, so a run that
moved on meanwhile (started, finished) is left alone. Its stored rows are dropped by the next run,
not here: a reader must not spend a request deleting a large run's rows.
"""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.batch.run_lock import LOCK_NAME, age_seconds, holder_pid, holder_process_is_gone
from service.db.models import JobLock, Run, utcnow

__all__ = ["fail_dead_runs"]


def fail_dead_runs(session: Session, stale_after: float | None = None) -> list[int]:
    """Mark queued and running runs whose owner died as failed, with why, and commit; the ids failed."""
    # runs before the lock: a run seen running has taken the lock already, so a lock read afterwards
    # that names someone else means the run lost it (or finished, which the conditional UPDATE sees)
    unfinished = session.execute(
        select(Run.id, Run.state, Run.holder, Run.started_at).where(Run.state.in_(("queued", "running")))
    ).all()
    if not unfinished:
        return []
    lock = session.execute(select(JobLock.holder, JobLock.heartbeat_at).where(JobLock.name == LOCK_NAME)).first()
    lock_holder, heartbeat = lock if lock else (None, None)
    failed = []
    for run_id, state, holder, started_at in unfinished:
        if state == "running":
            why = _why_running_is_dead(holder, lock_holder, heartbeat, stale_after)
        else:
            why = _why_queued_is_dead(holder, started_at, stale_after)
        if why is None:
            continue
        same_holder = Run.holder.is_(None) if holder is None else Run.holder == holder
        marked = session.execute(
            update(Run)
            .where(Run.id == run_id, Run.state == state, same_holder)
            .values(state="failed", finished_at=utcnow(), error=f"abandoned: {why}")
        )
        if marked.rowcount:
            failed.append(run_id)
    session.commit()
    return failed


def _why_running_is_dead(
    holder: str | None, lock_holder: str | None, heartbeat: datetime | None, stale_after: float | None
) -> str | None:
    if holder is not None and holder_process_is_gone(holder):
        return f"the process running it (pid {holder_pid(holder)}) stopped before it finished"
    if holder is None or lock_holder != holder:
        taker = f"now held by {lock_holder}" if lock_holder else "released"
        return f"it lost its lock ({taker}) before it finished"
    if stale_after is not None and (heartbeat is None or age_seconds(heartbeat) > stale_after):
        return f"no heartbeat from {holder} for over {stale_after:g} s"
    return None


def _why_queued_is_dead(holder: str | None, queued_at: datetime, stale_after: float | None) -> str | None:
    if holder is not None and holder_process_is_gone(holder):
        return f"the process started for it (pid {holder_pid(holder)}) stopped before the run began"
    if stale_after is not None and age_seconds(queued_at) > stale_after:
        return f"no process picked it up within {stale_after:g} s"
    return None
