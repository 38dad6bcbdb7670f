"""Batch runs: start a re-ranking in a process of its own, read runs, and what changed between two.

Reading runs marks failed first the queued or running runs whose owner is certainly dead
(`service.batch.recovery`), so nobody is shown a run as going on that no process is working on.
"""

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from service.auth import Principal
from service.batch import runs
from service.batch.launch import start_background_rerank
from service.batch.recovery import fail_dead_runs
from service.db.models import Run
from service.errors import FieldProblem, InvalidInput, NotFound
from service.schemas import MAX_ROW_ID, row_number
from service.settings import Settings

__all__ = [
    "STAGES",
    "start_rerank",
    "get_run",
    "list_runs",
    "current_run",
    "previous_run_id",
    "run_out",
    "run_diff",
    "diff_against",
    "all_stored_suggestions",
]

run_out = runs.run_out
STAGES = runs.STAGES


def start_rerank(*, session: Session, settings: Settings, sessions: sessionmaker[Session], principal: Principal) -> Run:
    """Queue a run and start it in a process of its own; `Conflict` when a live one is queued or running.

    Runs whose owner died (or went silent for `lock_stale_seconds`) are failed first, so a run that
    never started cannot block every later one.
    """
    return start_background_rerank(session, settings, sessions, principal.label)


def get_run(*, session: Session, run_id: int) -> Run:
    """The run; `NotFound` without one."""
    fail_dead_runs(session)
    return runs.get_run(session, run_id)


def list_runs(*, session: Session, limit: int = 50) -> list[Run]:
    """The latest runs, newest first."""
    fail_dead_runs(session)
    return runs.list_runs(session, limit)


def current_run(*, session: Session) -> Run | None:
    """The newest succeeded run: what is served as `source=batch`."""
    return runs.current_run(session)


def previous_run_id(*, session: Session, run_id: int) -> int | None:
    """The succeeded run before `run_id`, if any."""
    return runs.previous_run_id(session, run_id)


def run_diff(*, session: Session, run_id: int, against: int, profile_id: str | None = None) -> list[dict[str, Any]]:
    """Per profile and target: suggestions that came in to `run_id`'s top-k since `against`, that left it,
    and whose score changed by more than `SCORE_CHANGE`; never a rank that only shifted."""
    return runs.run_diff(session, run_id, against, profile_id)


def diff_against(*, session: Session, run_id: int, against: str, profile_id: str | None = None) -> dict[str, Any]:
    """What changed in `run_id` since `against`: a run id, or PREVIOUS for the succeeded run before it."""
    run = runs.get_run(session, run_id)
    if against.upper() == "PREVIOUS":
        other = runs.previous_run_id(session, run.id)
        if other is None:
            raise NotFound(f"run {run_id} has no earlier succeeded run to compare with")
    elif (against_id := row_number(against)) is not None:
        other = runs.get_run(session, against_id).id
    else:
        raise InvalidInput(
            "against must be a run id or PREVIOUS",
            [FieldProblem("/query/against", f"not a run id (digits 0-9, at most {MAX_ROW_ID})")],
        )
    changes = runs.run_diff(session, run.id, other, profile_id)
    return {
        "run": run.id,
        "against": other,
        "profiles_changed": len({c["profile"] for c in changes}),
        "changes": changes,
    }


def all_stored_suggestions(*, session: Session, run_id: int):
    """Every stored suggestion of a run as (profile, target, rank, other, score), streamed in order (CSV export)."""
    return runs.all_stored_suggestions(session, run_id)
