"""The batch re-ranking job: encode what changed, score every profile for both targets, store a run.

What changed is encoded by a child process (`embeddings.ChildProcessEncoder`), so the process that
builds the index and forks the scoring workers never holds the model.

A run becomes current only when it has succeeded, in one transaction; until then the previous
current run is served. A crashed or killed run is marked failed by the next one, which then starts
cleanly. A lock row (`run_lock`) keeps two runs from overlapping.
"""

import ctypes
import logging
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from embeddings import CachedEncoder, ChildProcessEncoder, load_encoder
from matching.batch import BatchScorer
from service.batch.block_scoring import ROW_COLUMNS, RerankParams, block_items, scored_blocks
from service.batch.run_lock import LOCK_NAME, holder_is_gone, new_holder, release_lock, take_lock
from service.batch.runs import previous_run_id, run_diff
from service.db.models import Exclusion, JobLock, Partnership, Run, RunSuggestion, utcnow
from service.db.vector_cache import DatabaseVectorCache
from service.errors import Conflict
from service.live.profiles_text import all_profile_texts
from service.live.recommenders import load_ranker, load_tagger, profile_entries, recommender_over, vector_width
from service.settings import Settings

__all__ = ["RerankParams", "ProgressReport", "rerank", "start_background_rerank"]

log = logging.getLogger(__name__)
STAGES = ("encoding", "scoring", "storing")


@dataclass
class ProgressReport:
    stage: str
    done: int
    total: int
    eta_seconds: float | None


ProgressFn = Callable[[ProgressReport], None]


def _abandon_dead_runs(session: Session) -> int:
    """Runs left `running` by a killed process: mark them failed and drop their partial rows."""
    dead = list(session.scalars(select(Run).where(Run.state == "running")))
    for run in dead:
        session.execute(delete(RunSuggestion).where(RunSuggestion.run_id == run.id))
        run.state, run.finished_at = "failed", utcnow()
        run.error = run.error or "abandoned: the process running it stopped before it finished"
    return len(dead)


def _prune(session: Session, keep: int) -> None:
    old = list(session.scalars(select(Run.id).where(Run.state != "running").order_by(Run.id.desc()).offset(keep)))
    if old:
        session.execute(delete(RunSuggestion).where(RunSuggestion.run_id.in_(old)))
        session.execute(delete(Run).where(Run.id.in_(old)))


class _Tracker:
    """Turns per-block progress into stage, counts and an ETA; writes it to the run row now and then."""

    def __init__(self, sessions: sessionmaker[Session], run_id: int, holder: str, report: ProgressFn | None) -> None:
        self.sessions, self.run_id, self.holder, self.report = sessions, run_id, holder, report
        self.stage_started = time.monotonic()
        self.last_write = 0.0
        self.stage = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self.stage:
            self.stage, self.stage_started = stage, now
        elapsed = now - self.stage_started
        eta = elapsed / done * (total - done) if done and total else None
        progress = ProgressReport(stage, done, total, None if eta is None else round(eta, 1))
        if self.report:
            self.report(progress)
        if now - self.last_write > 1.0 or done == total:
            self.last_write = now
            with self.sessions() as session:
                session.execute(update(Run).where(Run.id == self.run_id).values(progress=asdict(progress)))
                session.execute(
                    update(JobLock)
                    .where(JobLock.name == LOCK_NAME, JobLock.holder == self.holder)
                    .values(heartbeat_at=utcnow())
                )
                session.commit()


def _insert_rows_sql(paramstyle: str) -> str:
    """The INSERT of `ROW_COLUMNS` for the driver itself, in its parameter style (SQLite's or psycopg's).

    The parent stores 10 rows per profile and target (2M at 100k profiles): handed straight to the
    driver's executemany they cost a third of a Core insert's per-row work on SQLite, half on
    PostgreSQL, whose json column takes the text as it is.
    """
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}[paramstyle]
    columns, marks = ", ".join(ROW_COLUMNS), ", ".join([mark] * len(ROW_COLUMNS))
    return f"INSERT INTO {RunSuggestion.__tablename__} ({columns}) VALUES ({marks})"


def _release_free_heap() -> None:
    """Hand the heap's free pages back to the OS (glibc only; elsewhere nothing happens).

    Building the index leaves the per-profile vectors it copied from freed but resident, ~150 MB
    at 100k profiles; forked scoring workers would count them again in the run's peak memory.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _pairs(session: Session, model) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for a, b in session.execute(select(model.a, model.b)):
        out.setdefault(a, set()).add(b)
        out.setdefault(b, set()).add(a)
    return out


def rerank(
    settings: Settings,
    sessions: sessionmaker[Session],
    params: RerankParams = RerankParams(),
    report: ProgressFn | None = None,
    run_id: int | None = None,
) -> Run:
    """Run once: take the lock, score everything, make the run current; raises after marking a failure."""
    holder = new_holder()
    take_lock(sessions, holder, settings.lock_stale_seconds)
    try:
        with sessions() as session:
            _abandon_dead_runs(session)
            run = session.get(Run, run_id) if run_id else None
            if run is None:
                run = Run(state="running", model_id="", params={})
                session.add(run)
            base = load_encoder(settings.model)
            run.state, run.model_id, run.holder = "running", base.model_id, holder
            run.params = asdict(params) | {"dask_address": params.dask_address}
            run.started_at = utcnow()
            session.commit()
            run_id = run.id
        track = _Tracker(sessions, run_id, holder, report)
        try:
            counts = _execute(settings, sessions, params, run_id, track, base)
        except BaseException as exc:
            with sessions() as session:
                session.execute(delete(RunSuggestion).where(RunSuggestion.run_id == run_id))
                session.execute(
                    update(Run)
                    .where(Run.id == run_id)
                    .values(state="failed", finished_at=utcnow(), error=f"{type(exc).__name__}: {exc}")
                )
                session.commit()
            raise
        track("storing", 0, 1)
        with sessions() as session:
            # the one transaction that makes this run the served one
            run = session.get(Run, run_id)
            previous = previous_run_id(session, run_id)
            if previous is not None:
                run.diff = {"against": previous, "changes": run_diff(session, run_id, previous)}
            run.state, run.finished_at, run.counts = "succeeded", utcnow(), counts
            run.progress = asdict(ProgressReport("storing", 1, 1, 0.0))
            _prune(session, settings.keep_runs)
            session.commit()
        if report:
            report(ProgressReport("storing", 1, 1, 0.0))
        return run
    finally:
        release_lock(sessions, holder)


def _execute(
    settings: Settings, sessions: sessionmaker[Session], params: RerankParams, run_id: int, track: _Tracker, base
) -> dict:
    started = time.monotonic()
    timings: dict[str, float] = {}
    with sessions() as session:
        texts = all_profile_texts(session)
        excluded = _pairs(session, Exclusion)
        partnerships = _pairs(session, Partnership)
        for key, partners in partnerships.items():
            excluded.setdefault(key, set()).update(partners)
        insert_rows = _insert_rows_sql(session.get_bind().dialect.paramstyle)

    track("encoding", 0, len(texts))
    profiles = list(texts.values())
    # cache misses go to a child process, unless this one has the model already (a server)
    with nullcontext(base) if base.loaded else ChildProcessEncoder(base) as model:
        encoder = CachedEncoder(model, DatabaseVectorCache(sessions))
        tagger = load_tagger(settings.themes_path, encoder)
        entries = profile_entries(profiles, encoder, on_progress=lambda d, n: track("encoding", d, n))
        dim = vector_width(entries, encoder)
    # built once the child has exited: loading the index holds every vector twice for a moment
    recommender = recommender_over(profiles, entries, dim, tagger, ranker=load_ranker(settings.ranker_path))
    del entries, profiles
    track("encoding", len(texts), len(texts))
    _release_free_heap()
    timings["encoding"] = time.monotonic() - started

    items = block_items(texts, excluded, partnerships)
    done = stored = 0
    scoring = storing = 0.0
    track("scoring", 0, len(items))
    t = time.monotonic()
    for block, rows in scored_blocks(BatchScorer(recommender, shortlist_size=params.shortlist), items, params, run_id):
        scoring += time.monotonic() - t
        t = time.monotonic()
        with sessions() as session:
            if rows:
                session.connection().exec_driver_sql(insert_rows, rows)
            session.commit()
        stored += len(rows)
        done += len(block)
        storing += time.monotonic() - t
        track("scoring", done, len(items))
        t = time.monotonic()
    timings |= {
        "scoring": round(scoring, 3),
        "storing": round(storing, 3),
        "total": round(time.monotonic() - started, 3),
    }
    timings["encoding"] = round(timings["encoding"], 3)
    return {"profiles": len(texts), "encoded": encoder.encoded_count_, "suggestions": stored, "seconds": timings}


def start_background_rerank(
    session: Session, settings: Settings, sessions: sessionmaker[Session], requested_by: str
) -> Run:
    """Queue a run and start it on a thread of this process; Conflict when one is queued or running."""
    lock = session.get(JobLock, LOCK_NAME)
    queued = session.scalar(select(Run.id).where(Run.state == "queued").limit(1))
    if queued or (
        lock and lock.holder and not holder_is_gone(lock.holder, lock.heartbeat_at, settings.lock_stale_seconds)
    ):
        raise Conflict("a re-ranking run is already queued or in progress")
    run = Run(state="queued", model_id="", params={"requested_by": requested_by})
    session.add(run)
    session.commit()
    params = RerankParams.of(settings)

    def work() -> None:
        try:
            rerank(settings, sessions, params, run_id=run.id)
        except Conflict as exc:
            with sessions() as s:
                s.execute(
                    update(Run).where(Run.id == run.id).values(state="failed", error=str(exc), finished_at=utcnow())
                )
                s.commit()
        except Exception:  # recorded on the run row by rerank itself
            log.exception("re-ranking run %s failed", run.id)

    threading.Thread(target=work, name=f"rerank-{run.id}", daemon=True).start()
    return run
