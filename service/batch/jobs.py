"""The batch re-ranking job: encode what changed, score every profile for both targets, store a run.

What changed is encoded by a child process (`embeddings.ChildProcessEncoder`), so the process that
builds the index and forks the scoring workers never holds the model. A run the server starts runs
here too, in a process of its own (`service.batch.launch`).

A lock row (`run_lock`) keeps two runs from overlapping; its holder is the run's fencing token. A
run becomes current only when it has succeeded, in one transaction that first checks the lock still
names the run: a run that lost its lock (taken over while it was stuck) can never become current,
and until a run does, the previous current run is served. A run that fails marks itself failed and
drops its rows; one that is killed is marked failed by whoever looks at runs next (`recovery`), and
its rows are dropped by the next run, which then starts cleanly.
"""

import ctypes
import getpass
import logging
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass

from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from embeddings import CachedEncoder, ChildProcessEncoder, load_encoder
from matching.batch import BatchScorer
from service.batch.block_scoring import (
    PHRASE_COLUMNS,
    ROW_COLUMNS,
    RerankParams,
    block_items,
    phrase_rows,
    scored_blocks,
)
from service.batch.cache_pruning import ReferencedVectors, profile_versions, prune_unreferenced
from service.batch.recovery import fail_dead_runs
from service.batch.run_lock import (
    Heartbeat,
    heartbeat_interval,
    holder_prefix,
    new_holder,
    refresh_lock,
    release_lock,
    take_lock,
)
from service.batch.runs import previous_run_id, stored_diff
from service.db.models import Exclusion, Partnership, Run, RunLexicon, RunPhrases, RunSuggestion, utcnow
from service.db.vector_cache import DatabaseVectorCache
from service.errors import Conflict
from service.live.profiles_text import all_profile_texts
from service.live.recommenders import load_ranker, load_tagger, profile_entries, recommender_over, vector_width
from service.settings import Settings

__all__ = ["RerankParams", "ProgressReport", "rerank", "command_line_requester"]

log = logging.getLogger(__name__)


@dataclass
class ProgressReport:
    stage: str
    done: int
    total: int
    eta_seconds: float | None


ProgressFn = Callable[[ProgressReport], None]


def _drop_stored_rows(session: Session, runs: list[int] | Select) -> None:
    """Delete what these runs (ids, or a select of them) stored: their suggestions, the phrases they
    quote and their lexical statistics."""
    for model in (RunSuggestion, RunPhrases, RunLexicon):
        session.execute(delete(model).where(model.run_id.in_(runs)))


def _prune_old_runs(session: Session, keep: int) -> None:
    finished = Run.state.in_(("succeeded", "failed"))
    old = list(session.scalars(select(Run.id).where(finished).order_by(Run.id.desc()).offset(keep)))
    if old:
        _drop_stored_rows(session, old)
        session.execute(delete(Run).where(Run.id.in_(old)))


class _Tracker:
    """Turns per-block progress into stage, counts and an ETA; writes it to the run row as each stage
    begins and ends, and at most once a second between.

    Every call is also a fence check: it raises once the heartbeat has found the lock taken over, and
    when the run row is no longer this run's (marked failed by someone who judged its owner dead).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        run_id: int,
        holder: str,
        heartbeat: Heartbeat,
        report: ProgressFn | None,
    ) -> None:
        self.sessions, self.run_id, self.holder = sessions, run_id, holder
        self.heartbeat, self.report = heartbeat, report
        self.stage_started = time.monotonic()
        self.last_write = 0.0
        self.stage = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        begins = stage != self.stage
        if begins:
            self.stage, self.stage_started = stage, now
        elapsed = now - self.stage_started
        eta = elapsed / done * (total - done) if done and total else None
        progress = ProgressReport(stage, done, total, None if eta is None else round(eta, 1))
        if self.report:
            self.report(progress)
        self.heartbeat.check()
        # every stage is written as it begins, however short, so a run's page shows each one
        if begins or now - self.last_write > 1.0 or done == total:
            self.last_write = now
            with self.sessions() as session:
                written = session.execute(
                    update(Run)
                    .where(Run.id == self.run_id, Run.state == "running", Run.holder == self.holder)
                    .values(progress=asdict(progress))
                ).rowcount
                session.commit()
            if written != 1:
                raise Conflict(f"run {self.run_id} was marked failed while it worked: its owner was judged dead")


def _insert_sql(table: str, columns: tuple[str, ...], paramstyle: str) -> str:
    """The INSERT of `columns` for the driver itself, in its parameter style (SQLite's or psycopg's).

    The parent stores 10 rows per profile and target (2M at 100k profiles): handed straight to the
    driver's executemany they cost a third of a Core insert's per-row work on SQLite, half on
    PostgreSQL, whose json column takes the text as it is.
    """
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}[paramstyle]
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"


def _release_free_heap() -> None:
    """Hand the heap's free pages back to the OS (glibc only; elsewhere nothing happens).

    Building the index leaves the per-profile vectors it copied from freed but resident, ~150 MB
    at 100k profiles; forked scoring workers would count them again in the run's peak memory.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def command_line_requester() -> str:
    """Who a run this process makes is by (`twinning rerank`, cron): the user it runs as, as the runs pages
    show it beside the key labels of runs started from the API and the pages."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment, no passwd entry for the uid
        user = f"uid {os.getuid()}"
    return f"{user} (command line)"


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
    """Run once: take the lock, score everything, make the run current; raises after marking a failure.

    With `run_id`, the run the server queued under that id is the one executed (`twinning rerank
    --run-id`), by whoever queued it; without, a new run is made, by this process's user
    (`command_line_requester`).
    """
    holder, ours = new_holder(), False
    try:
        take_lock(sessions, holder, settings.lock_stale_seconds)
        with Heartbeat(sessions, holder, heartbeat_interval(settings.lock_stale_seconds)) as heartbeat:
            base = load_encoder(settings.model, backend=settings.encoder_backend, export_root=settings.encoder_cache)
            run_id = _begin(sessions, params, holder, run_id, base.model_id)
            ours = True
            track = _Tracker(sessions, run_id, holder, heartbeat, report)
            counts = _execute(settings, sessions, params, run_id, track, base)
            run = _make_current(sessions, settings, run_id, holder, counts)
    except BaseException as exc:
        if run_id is not None:
            _record_failure(sessions, run_id, holder if ours else None, exc)
        raise
    finally:
        try:
            release_lock(sessions, holder)
        except SQLAlchemyError:  # left to be taken over: its holder is gone, or silent, by then
            log.exception("could not release the lock of %s", holder)
    if report:
        report(ProgressReport("storing", 1, 1, 0.0))
    return run


def _begin(
    sessions: sessionmaker[Session], params: RerankParams, holder: str, run_id: int | None, model_id: str
) -> int:
    """Make the run this holder's: runs left unfinished by others are failed, failed runs' rows dropped."""
    values = {"state": "running", "holder": holder, "model_id": model_id, "started_at": utcnow()}
    with sessions() as session:
        fail_dead_runs(session)  # this process holds the lock: any other running run has lost it
        _drop_stored_rows(session, select(Run.id).where(Run.state == "failed"))
        if run_id is None:
            run = Run(params={"requested_by": command_line_requester()} | asdict(params), **values)
            session.add(run)
            session.flush()
            run_id = run.id
        else:
            # queued for this process: the server names the process it spawned for the run on it
            for_us = or_(Run.holder.is_(None), Run.holder.startswith(holder_prefix(os.getpid()), autoescape=True))
            queued = select(Run.params).where(Run.id == run_id, Run.state == "queued", for_us)
            requested = session.scalar(queued)
            taken = session.execute(
                update(Run)
                .where(Run.id == run_id, Run.state == "queued", for_us)
                .values(params=(requested or {}) | asdict(params), **values)
            ).rowcount
            if taken != 1:
                raise Conflict(f"run {run_id} is not queued for this process: it has failed, run, or is another's")
        session.commit()
    return run_id


def _make_current(sessions: sessionmaker[Session], settings: Settings, run_id: int, holder: str, counts: dict) -> Run:
    """The one transaction that makes the run the served one, only while the lock still names it."""
    with sessions() as session:
        # read before the fenced transaction, so that holds no write lock while two rankings are read;
        # no other run can succeed meanwhile, and if one took over, the fence stops this one
        previous = previous_run_id(session, run_id)
        diff = None if previous is None else stored_diff(session, run_id, previous)
    with sessions() as session:
        # the fence is the transaction's first write: it takes SQLite's write lock, and PostgreSQL's
        # lock on the row, so no takeover can come between it and the commit
        if not refresh_lock(session, holder):
            raise Conflict(f"run {run_id} lost its lock before it could become current: another run took over")
        made = session.execute(
            update(Run)
            .where(Run.id == run_id, Run.state == "running", Run.holder == holder)
            .values(
                state="succeeded",
                finished_at=utcnow(),
                counts=counts,
                progress=asdict(ProgressReport("storing", 1, 1, 0.0)),
                diff=diff,
            )
        ).rowcount
        if made != 1:
            raise Conflict(f"run {run_id} was marked failed before it could become current")
        _prune_old_runs(session, settings.keep_runs)
        session.commit()
        return session.get(Run, run_id)


def _record_failure(sessions: sessionmaker[Session], run_id: int, holder: str | None, exc: BaseException) -> None:
    """Mark the run failed with the error and drop its rows; a run someone else already marked keeps
    that mark. `holder` is None while the run is still queued (it failed before it began)."""
    mine = (Run.state == "running") & (Run.holder == holder) if holder else Run.state == "queued"
    try:
        with sessions() as session:
            session.execute(
                update(Run)
                .where(Run.id == run_id, mine)
                .values(state="failed", finished_at=utcnow(), error=f"{type(exc).__name__}: {exc}")
            )
            if session.scalar(select(Run.state).where(Run.id == run_id)) == "failed":
                _drop_stored_rows(session, [run_id])
            session.commit()
    except SQLAlchemyError:  # the next reader or run marks it: its owner is gone by then
        log.exception("could not record the failure of run %s", run_id)


def _execute(
    settings: Settings, sessions: sessionmaker[Session], params: RerankParams, run_id: int, track: _Tracker, base
) -> dict:
    started = time.monotonic()
    timings: dict[str, float] = {}
    with sessions() as session:
        versions = profile_versions(session)
        texts = all_profile_texts(session)
        excluded = _pairs(session, Exclusion)
        partnerships = _pairs(session, Partnership)
        for key, partners in partnerships.items():
            excluded.setdefault(key, set()).update(partners)
        paramstyle = session.get_bind().dialect.paramstyle
        insert_rows = _insert_sql(RunSuggestion.__tablename__, ROW_COLUMNS, paramstyle)
        insert_phrases = _insert_sql(RunPhrases.__tablename__, PHRASE_COLUMNS, paramstyle)

    track("encoding", 0, len(texts))
    profiles = list(texts.values())
    # cache misses go to a child process, unless this process holds the model already
    with nullcontext(base) if base.loaded else ChildProcessEncoder(base) as model:
        referenced = ReferencedVectors(DatabaseVectorCache(sessions))
        encoder = CachedEncoder(model, referenced)
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
    scoring = 0.0
    track("scoring", 0, len(items))
    t = time.monotonic()
    with sessions() as session:
        if phrases := phrase_rows(recommender.index, run_id):
            session.connection().exec_driver_sql(insert_phrases, phrases)
        session.add(RunLexicon(run_id=run_id, statistics=recommender.lexical.statistics().packed()))
        session.commit()
    storing = time.monotonic() - t
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
    track("storing", 0, 1)
    t = time.monotonic()
    pruned = prune_unreferenced(sessions, encoder.model_id, referenced, versions)
    timings |= {
        "scoring": round(scoring, 3),
        "storing": round(storing, 3),
        "pruning": round(time.monotonic() - t, 3),
        "total": round(time.monotonic() - started, 3),
    }
    timings["encoding"] = round(timings["encoding"], 3)
    return {
        "profiles": len(texts),
        "encoded": encoder.encoded_count_,
        "suggestions": stored,
        "vectors_pruned": pruned,
        "seconds": timings,
    }
