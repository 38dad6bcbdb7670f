"""Batch runs and jobs: start a re-ranking, follow it, list runs and read what changed."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from service.api.deps import ManagerDep, RunIdPath, SessionDep, SettingsDep
from service.domain import runs as domain_runs
from service.schemas import ID_PATTERN

router = APIRouter(tags=["runs"])


@router.post("/jobs/rerank", status_code=status.HTTP_202_ACCEPTED)
def start_rerank(
    request: Request, session: SessionDep, settings: SettingsDep, principal: ManagerDep, response: Response
) -> dict[str, Any]:
    """Start a re-ranking in a process of its own; follow it at the Location given."""
    run = domain_runs.start_rerank(
        session=session, settings=settings, sessions=request.app.state.sessions, principal=principal
    )
    response.headers["Location"] = f"/jobs/{run.id}"
    return domain_runs.run_out(run)


@router.get("/jobs/{job_id}")
def read_job(job_id: RunIdPath, session: SessionDep, principal: ManagerDep) -> dict[str, Any]:
    return domain_runs.run_out(domain_runs.get_run(session=session, run_id=job_id))


@router.get("/runs")
def runs(session: SessionDep, principal: ManagerDep, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    return {"items": [domain_runs.run_out(r) for r in domain_runs.list_runs(session=session, limit=limit)]}


@router.get("/runs/{run_id}")
def read_run(run_id: RunIdPath, session: SessionDep, principal: ManagerDep) -> dict[str, Any]:
    out = domain_runs.run_out(domain_runs.get_run(session=session, run_id=run_id))
    out["previous"] = domain_runs.previous_run_id(session=session, run_id=run_id)
    return out


@router.get("/runs/{run_id}/diff")
def diff(
    run_id: RunIdPath,
    session: SessionDep,
    principal: ManagerDep,
    against: Annotated[
        str, Query(description="a run id, or PREVIOUS for the succeeded run before this one")
    ] = "PREVIOUS",
    profile: Annotated[str | None, Query(pattern=ID_PATTERN, description="only this profile")] = None,
) -> dict[str, Any]:
    return domain_runs.diff_against(session=session, run_id=run_id, against=against, profile_id=profile)
