"""Batch runs and jobs: start a re-ranking, follow it, list runs and read what changed."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from service.api.deps import ManagerDep, RunIdPath, SessionDep, SettingsDep
from service.domain import runs as domain_runs
from service.errors import Conflict, InvalidInput, NotFound, problems
from service.schemas import ID_PATTERN, RunDetail, RunDiff, RunList, RunOut

router = APIRouter(tags=["runs"])


@router.post(
    "/jobs/rerank",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunOut,
    responses=problems(Conflict),
)
def start_rerank(
    request: Request, session: SessionDep, settings: SettingsDep, principal: ManagerDep, response: Response
) -> RunOut:
    """Start a re-ranking in a process of its own; follow it at the Location given. A run whose process
    could not start is answered at once as `failed`, with its error; 409 while another run is going on."""
    run = domain_runs.start_rerank(
        session=session, settings=settings, sessions=request.app.state.sessions, principal=principal
    )
    response.headers["Location"] = f"/jobs/{run.id}"
    return RunOut.model_validate(domain_runs.run_out(run))


@router.get("/jobs/{job_id}", response_model=RunOut, responses=problems(NotFound))
def read_job(job_id: RunIdPath, session: SessionDep, principal: ManagerDep) -> RunOut:
    return RunOut.model_validate(domain_runs.run_out(domain_runs.get_run(session=session, run_id=job_id)))


@router.get("/runs", response_model=RunList)
def runs(session: SessionDep, principal: ManagerDep, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> RunList:
    return RunList(items=[domain_runs.run_out(r) for r in domain_runs.list_runs(session=session, limit=limit)])


@router.get("/runs/{run_id}", response_model=RunDetail, responses=problems(NotFound))
def read_run(run_id: RunIdPath, session: SessionDep, principal: ManagerDep) -> RunDetail:
    run = domain_runs.run_out(domain_runs.get_run(session=session, run_id=run_id))
    return RunDetail(**run, previous=domain_runs.previous_run_id(session=session, run_id=run_id))


@router.get("/runs/{run_id}/diff", response_model=RunDiff, responses=problems(NotFound, InvalidInput))
def diff(
    run_id: RunIdPath,
    session: SessionDep,
    principal: ManagerDep,
    against: Annotated[
        str, Query(description="a run id, or PREVIOUS for the succeeded run before this one")
    ] = "PREVIOUS",
    profile: Annotated[str | None, Query(pattern=ID_PATTERN, description="only this profile")] = None,
) -> RunDiff:
    return RunDiff.model_validate(
        domain_runs.diff_against(session=session, run_id=run_id, against=against, profile_id=profile)
    )
