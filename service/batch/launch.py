"""Starting a run from the server: queue it, and run it in a process of its own, spawned clean.

The run is `twinning rerank --run-id N` in a new interpreter (`python -m service.batch`), never a
fork of the server: it inherits no listening socket, no client connection and no signal handler,
and it sits in a session of its own, so stopping the server does not stop it. It runs, its scoring
workers too, at the lower CPU priority `rerank_nice` (set by `twinning rerank`). It is given the
server's settings through the environment, and the server never waits on it: a thread reaps it
when it exits, and marks its run failed if it exited before finishing.
"""

import logging
import os
import signal
import subprocess
import sys
import threading

from sqlalchemy import select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.batch.recovery import fail_dead_runs
from service.batch.run_lock import LOCK_NAME, holder_is_gone, holder_prefix, new_holder
from service.db.models import JobLock, Run, utcnow
from service.errors import Conflict
from service.settings import Settings

__all__ = ["start_background_rerank", "settings_environment"]

log = logging.getLogger(__name__)


def start_background_rerank(
    session: Session, settings: Settings, sessions: sessionmaker[Session], requested_by: str
) -> Run:
    """Queue a run and start its process; Conflict when a live run is queued or running.

    Runs whose owner died are failed first, so a run that never started cannot block every later
    start. A process that cannot be started fails its run with the error.
    """
    fail_dead_runs(session, stale_after=settings.lock_stale_seconds)
    queued = session.scalar(select(Run.id).where(Run.state == "queued").limit(1))
    lock = session.execute(select(JobLock.holder, JobLock.heartbeat_at).where(JobLock.name == LOCK_NAME)).first()
    if queued or (
        lock and lock.holder and not holder_is_gone(lock.holder, lock.heartbeat_at, settings.lock_stale_seconds)
    ):
        raise Conflict("a re-ranking run is already queued or in progress")
    run = Run(state="queued", model_id="", params={"requested_by": requested_by})
    session.add(run)
    session.commit()
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "service.batch", "--run-id", str(run.id)],
            env=settings_environment(settings),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            close_fds=True,
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:
        run.state, run.finished_at = "failed", utcnow()
        run.error = f"the run's process could not be started: {type(exc).__name__}: {exc}"
        session.commit()
        return run
    # the child's pid on the queued run: if the child dies before it begins, readers see it gone
    session.execute(update(Run).where(Run.id == run.id, Run.state == "queued").values(holder=new_holder(pid=child.pid)))
    session.commit()
    threading.Thread(target=_reap, args=(child, sessions, run.id), name=f"reap-rerank-{run.id}", daemon=True).start()
    return run


def settings_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with `TWINNING_` variables that give another process these settings.

    Refuses an in-memory SQLite database, which no other process can open.
    """
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise ValueError("an in-memory SQLite database cannot be shared with the run's process")
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        variable = f"TWINNING_{name.upper()}"
        env.pop(variable, None)
        if value is not None:
            env[variable] = str(value)
    return env


def _reap(child: subprocess.Popen, sessions: sessionmaker[Session], run_id: int) -> None:
    code = child.wait()
    how = f"was killed by {_signal_name(-code)}" if code < 0 else f"exited with code {code}"
    try:
        with sessions() as session:
            # only while the run is this child's: queued for it, or begun by it (a holder of its pid)
            of_child = Run.holder.startswith(holder_prefix(child.pid), autoescape=True)
            session.execute(
                update(Run)
                .where(Run.id == run_id, Run.state.in_(("queued", "running")), of_child)
                .values(
                    state="failed", finished_at=utcnow(), error=f"abandoned: the run's process {how} before it finished"
                )
            )
            session.commit()
    except SQLAlchemyError:  # the next reader marks it: its process is gone
        log.exception("could not record the end of run %s's process", run_id)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
