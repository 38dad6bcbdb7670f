"""Batch runs and jobs: start a re-ranking, follow it, list runs and read what changed."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from service.api.deps import ManagerDep, RunIdPath, SessionDep
from service.errors import FieldProblem, InvalidInput, NotFound
from service.batch.jobs import start_background_rerank
from service.batch.runs import get_run, list_runs, previous_run_id, run_diff, run_out
from service.schemas import ID_PATTERN, MAX_ROW_ID, row_number

router = APIRouter(tags=["runs"])


@router.post("/jobs/rerank", status_code=status.HTTP_202_ACCEPTED)
def start_rerank(request: Request, session: SessionDep, principal: ManagerDep, response: Response) -> dict[str, Any]:
    """Start a re-ranking in the background; follow it at the Location given."""
    run = start_background_rerank(session, request.app.state.settings, request.app.state.sessions, principal.label)
    response.headers["Location"] = f"/jobs/{run.id}"
    return run_out(run)


@router.get("/jobs/{job_id}")
def read_job(job_id: RunIdPath, session: SessionDep, principal: ManagerDep) -> dict[str, Any]:
    return run_out(get_run(session, job_id))


@router.get("/runs")
def runs(session: SessionDep, principal: ManagerDep, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    return {"items": [run_out(r) for r in list_runs(session, limit)]}


@router.get("/runs/{run_id}")
def read_run(run_id: RunIdPath, session: SessionDep, principal: ManagerDep) -> dict[str, Any]:
    out = run_out(get_run(session, run_id))
    out["previous"] = previous_run_id(session, run_id)
    return out


@router.get("/runs/{run_id}/diff")
def diff(
    run_id: RunIdPath,
    session: SessionDep,
    principal: ManagerDep,
    against: Annotated[str, Query(description="a run id, or PREVIOUS for the succeeded run before this one")] = "PREVIOUS",
    profile: Annotated[str | None, Query(pattern=ID_PATTERN, description="only this profile")] = None,
) -> dict[str, Any]:
    run = get_run(session, run_id)
    if against.upper() == "PREVIOUS":
        other = previous_run_id(session, run.id)
        if other is None:
            raise NotFound(f"run {run_id} has no earlier succeeded run to compare with")
    elif (against_id := row_number(against)) is not None:
        other = get_run(session, against_id).id
    else:
        raise InvalidInput("against must be a run id or PREVIOUS", [FieldProblem("/query/against", f"not a run id (digits 0-9, at most {MAX_ROW_ID})")])
    changes = run_diff(session, run.id, other, profile)
    return {"run": run.id, "against": other, "profiles_changed": len({c["profile"] for c in changes}), "changes": changes}
