"""A re-ranking run that stops in a stage and waits there: the process the kill and freeze tests start.

`python -m tests.service.batch.stalled_run STAGE MARKER` runs as `twinning rerank` does (settings from
the environment). At its first progress report in STAGE (in scoring: once a block is stored) it
writes MARKER and waits until MARKER.go exists, so a test can kill it there, freeze it, or let it go.
"""

import sys
import time
from pathlib import Path

from service.batch.jobs import ProgressReport, RerankParams, rerank
from service.db.engine import make_engine, make_sessionmaker
from service.settings import get_settings


def main(stage: str, marker: Path) -> None:
    settings = get_settings()
    sessions = make_sessionmaker(make_engine(settings.database_url))
    stopped = False

    def report(progress: ProgressReport) -> None:
        nonlocal stopped
        if stopped or progress.stage != stage or (stage == "scoring" and not progress.done):
            return
        stopped = True
        marker.write_text("stopped")
        go = marker.with_suffix(".go")
        while not go.exists():
            time.sleep(0.01)

    rerank(settings, sessions, RerankParams.of(settings), report=report)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
