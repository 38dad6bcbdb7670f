"""A re-ranking run that stops in a stage and waits there: the process the kill and freeze tests start.

`python -m tests.service.batch.stalled_run STAGE MARKER [in-transaction]` runs as `twinning rerank`
does (settings from the environment). At its first progress report in STAGE (in scoring: once a
block is stored) it writes MARKER and waits until MARKER.go exists, so a test can kill it there,
freeze it, or let it go. With `in-transaction` it waits inside a transaction that has written the
lock's row, as a run frozen in the middle of a write would.
"""

import sys
import time
from pathlib import Path

from sqlalchemy import update

from service.batch.jobs import ProgressReport, RerankParams, rerank
from service.db.engine import make_engine, make_sessionmaker
from service.db.models import JobLock
from service.settings import get_settings


def main(stage: str, marker: Path, in_transaction: bool) -> None:
    settings = get_settings()
    sessions = make_sessionmaker(
        make_engine(settings.database_url, idle_in_transaction_timeout=settings.lock_stale_seconds)
    )
    stopped = False

    def report(progress: ProgressReport) -> None:
        nonlocal stopped
        if stopped or progress.stage != stage or (stage == "scoring" and not progress.done):
            return
        stopped = True
        with sessions() as session:
            if in_transaction:
                session.execute(update(JobLock).values(heartbeat_at=JobLock.heartbeat_at))
            marker.write_text("stopped")
            go = marker.with_suffix(".go")
            while not go.exists():
                time.sleep(0.01)

    rerank(settings, sessions, RerankParams.of(settings), report=report)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3:] == ["in-transaction"])
