"""A run that fails, is killed, stalls or loses its lock in any stage never becomes current; the previous
run stays served, the broken run ends failed without rows, and the next run starts cleanly."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import OperationalError

from service.batch import block_scoring
from service.batch.jobs import ProgressReport, RerankParams, rerank
from service.batch.launch import settings_environment
from service.batch.recovery import fail_dead_runs
from service.batch.run_lock import release_lock, take_lock
from service.batch.runs import current_run
from service.db.models import JobLock, Run, RunLexicon, RunPhrases, RunSuggestion, utcnow
from service.errors import Conflict

ROOT = Path(__file__).resolve().parents[3]
TAKER = "elsewhere:1:taker"  # a live holder on another host


def _run(app, report=None, **params) -> Run:
    return rerank(app.state.settings, app.state.sessions, RerankParams(**params), report=report)


def _rows(app, run_id: int) -> int:
    """What the run stored: its suggestions, the phrases they quote and its lexical statistics."""
    with app.state.sessions() as s:
        return sum(
            s.scalar(select(func.count()).select_from(model).where(model.run_id == run_id))
            for model in (RunSuggestion, RunPhrases, RunLexicon)
        )


def _current_id(app) -> int:
    with app.state.sessions() as s:
        return current_run(s).id


def _only_run_in(app, state: str) -> Run:
    with app.state.sessions() as s:
        return s.scalars(select(Run).where(Run.state == state)).one()


def _lock_holder(app) -> str | None:
    with app.state.sessions() as s:
        return s.scalar(select(JobLock.holder))


def _reached(stage: str, progress: ProgressReport) -> bool:
    """The point of a stage where the tests stop a run: scoring once a block is stored, else its first report."""
    return progress.stage == stage and (stage != "scoring" or progress.done > 0)


# failures


@contextmanager
def _statement_fails(engine, starts: str, containing: str = "") -> Iterator[None]:
    """Every statement that starts so (and contains that) fails, as when the database goes away."""

    def fail(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith(starts) and containing in statement:
            raise OperationalError(statement, parameters, ConnectionError("the database went away"))

    event.listen(engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", fail)


def _scoring_blows_up(*args, **kwargs):
    raise RuntimeError("scoring blew up")


@contextmanager
def _failure_in(stage: str, app, monkeypatch) -> Iterator[None]:
    engine = app.state.engine
    if stage == "encoding":  # reading the cached vectors
        with _statement_fails(engine, "SELECT vector_cache."):
            yield
    elif stage == "scoring":
        with monkeypatch.context() as m:
            m.setattr(block_scoring, "suggest_block", _scoring_blows_up)
            yield
    elif stage == "storing":  # the scored blocks' rows
        with _statement_fails(engine, "INSERT INTO run_suggestions"):
            yield
    else:  # the transaction that makes the run current
        with _statement_fails(engine, "UPDATE runs SET state", containing="counts"):
            yield


@pytest.mark.parametrize("stage", ["encoding", "scoring", "storing", "final commit"])
def test_a_run_failing_in_any_stage_is_failed_with_its_error_and_the_previous_run_stays_current(
    app, demo, monkeypatch, stage
):
    good = _run(app)
    with _failure_in(stage, app, monkeypatch), pytest.raises((RuntimeError, OperationalError)):
        _run(app, block_size=4)
    failed = _only_run_in(app, "failed")
    assert "went away" in failed.error or "scoring blew up" in failed.error
    assert _rows(app, failed.id) == 0
    assert _current_id(app) == good.id and _lock_holder(app) is None
    assert _run(app).state == "succeeded"


def test_a_run_that_cannot_record_its_failure_is_failed_by_the_next_start(app, demo, monkeypatch):
    """The database goes away as the run fails, so the run stays `running` under a lock left behind;
    a start after the lock's stale limit takes the lock over and fails the run."""
    good = _run(app)
    engine, gone, went = app.state.engine, ExitStack(), threading.Event()

    def report(progress: ProgressReport) -> None:
        if progress.stage == "scoring" and not went.is_set():
            went.set()
            gone.enter_context(_statement_fails(engine, "UPDATE runs SET state"))
            gone.enter_context(_statement_fails(engine, "UPDATE job_locks"))

    monkeypatch.setattr(block_scoring, "suggest_block", _scoring_blows_up)
    with gone, pytest.raises(RuntimeError, match="scoring blew up"):
        _run(app, report=report)
    monkeypatch.undo()
    stuck = _only_run_in(app, "running")
    assert _current_id(app) == good.id
    app.state.settings.lock_stale_seconds = 0.2
    time.sleep(0.3)
    assert _run(app).state == "succeeded"
    with app.state.sessions() as s:
        assert "abandoned: it lost its lock" in s.get(Run, stuck.id).error
    assert _rows(app, stuck.id) == 0


# stalls and lost locks


class _Stalled:
    """A run on a thread of its own, stopped in a stage until let go."""

    def __init__(self, app, stage: str) -> None:
        self.stopped, self.go = threading.Event(), threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, args=(app, stage))
        self.thread.start()
        assert self.stopped.wait(60), "the run never reached the stage"

    def _work(self, app, stage: str) -> None:
        def report(progress: ProgressReport) -> None:
            if _reached(stage, progress) and not self.stopped.is_set():
                self.stopped.set()
                self.go.wait(60)

        try:
            _run(app, report=report, block_size=4)
        except BaseException as exc:
            self.error = exc

    def finish(self) -> BaseException | None:
        self.go.set()
        self.thread.join(60)
        return self.error


def _take_over(app, mark_abandoned: bool) -> None:
    """Another taker: the lock is its now, and as a starting run does, it fails the run it took over from."""
    with app.state.sessions() as s:
        s.execute(update(JobLock).values(holder=TAKER, heartbeat_at=utcnow()))
        s.commit()
        if mark_abandoned:
            fail_dead_runs(s)


@pytest.mark.parametrize("stage", ["encoding", "scoring", "storing", "final commit"])
def test_a_run_that_loses_its_lock_in_any_stage_and_then_tries_to_finish_never_becomes_current(app, demo, stage):
    good = _run(app)
    stalled = _Stalled(app, "storing" if stage == "final commit" else stage)
    stuck = _only_run_in(app, "running")
    # in the last stage, taken over the instant before its final commit: only the fence there stops it
    _take_over(app, mark_abandoned=stage != "final commit")
    assert isinstance(stalled.finish(), Conflict)
    with app.state.sessions() as s:
        run = s.get(Run, stuck.id)
    assert run.state == "failed" and "lost its lock" in run.error
    assert _rows(app, stuck.id) == 0
    assert _current_id(app) == good.id and _lock_holder(app) == TAKER
    release_lock(app.state.sessions, TAKER)
    assert _run(app).state == "succeeded"


def test_the_heartbeat_keeps_a_stalled_stage_from_being_taken_over(app, demo):
    app.state.settings.lock_stale_seconds = 0.6
    stalled = _Stalled(app, "scoring")
    time.sleep(1.0)  # longer than the stale limit: only the heartbeat's own timer keeps the lock fresh
    with pytest.raises(Conflict):
        take_lock(app.state.sessions, TAKER, stale_after=0.6)
    assert stalled.finish() is None
    assert _only_run_in(app, "succeeded").id == _current_id(app)


# kills and freezes of a run's process


@pytest.fixture
def stalled_process(settings, tmp_path):
    """Start `stalled_run` at a stage, in a process group of its own; killed at the end whatever happens."""
    started: list[subprocess.Popen] = []

    def start(stage: str, *options: str, **env: str) -> tuple[subprocess.Popen, Path]:
        marker = tmp_path / f"{stage}.stopped"
        variables = settings_environment(settings) | {"TWINNING_RERANK_BLOCK_SIZE": "4", "TWINNING_RERANK_WORKERS": "2"}
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.service.batch.stalled_run", stage, str(marker), *options],
            cwd=ROOT,
            env=variables | env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "stderr").open("w"),
            start_new_session=True,
        )
        started.append(child)
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, (tmp_path / "stderr").read_text()
            assert time.monotonic() < deadline, "the run never reached the stage"
            time.sleep(0.02)
        return child, marker

    yield start
    for child in started:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


@pytest.mark.parametrize("stage", ["encoding", "scoring", "storing"])
def test_a_run_killed_in_any_stage_leaves_the_previous_run_served_and_the_next_starts_cleanly(
    app, demo, keys, stalled_process, stage
):
    good = _run(app)
    child, _ = stalled_process(stage)
    killed = _only_run_in(app, "running")
    assert (_rows(app, killed.id) > 0) == (stage != "encoding")
    os.killpg(child.pid, signal.SIGKILL)  # the run and its scoring workers
    child.wait()
    assert _only_run_in(app, "running").id == killed.id  # nobody has noticed yet
    h = keys.auth("manager")
    served = demo.get("/profiles/eindhoven/suggestions?source=batch", headers=h).json()
    assert served["run_id"] == good.id and served["items"]
    job = demo.get(f"/jobs/{killed.id}", headers=h).json()  # whoever reads runs notices
    assert job["state"] == "failed" and "abandoned: the process running it" in job["error"]
    after = _run(app)  # the dead holder's lock is taken over at once
    assert after.state == "succeeded" and _current_id(app) == after.id
    assert _rows(app, killed.id) == 0


@pytest.mark.parametrize("where", ["between writes", "inside a write"])
def test_a_frozen_run_taken_over_and_then_let_go_never_becomes_current(app, demo, stalled_process, where):
    """Frozen (its heartbeat too), the run's lock goes stale; a new run takes over and succeeds; thawed,
    the old run carries on and tries to finish: it stays failed, without rows, and the new run stays current.

    Frozen inside a write that holds the lock's row, the run's session is ended by PostgreSQL once it
    has been idle in its transaction for the stale limit, which frees the row for the taker."""
    if where == "inside a write" and app.state.settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite has no server to end a frozen writer's transaction: its write lock stays held")
    app.state.settings.lock_stale_seconds = 1.0
    _run(app)
    options = ["in-transaction"] if where == "inside a write" else []
    child, marker = stalled_process("scoring", *options, TWINNING_LOCK_STALE_SECONDS="1.0")
    frozen = _only_run_in(app, "running")
    os.killpg(child.pid, signal.SIGSTOP)
    time.sleep(1.2)
    taker = _run(app)
    assert taker.state == "succeeded"
    with app.state.sessions() as s:
        assert s.get(Run, frozen.id).state == "failed"
    marker.with_suffix(".go").touch()
    os.killpg(child.pid, signal.SIGCONT)
    assert child.wait(timeout=60) != 0
    with app.state.sessions() as s:
        run = s.get(Run, frozen.id)
    assert run.state == "failed" and "abandoned" in run.error
    assert _rows(app, frozen.id) == 0
    assert _current_id(app) == taker.id and _lock_holder(app) is None
