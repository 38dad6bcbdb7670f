"""Batch runs: the list, starting a re-rank, a running job's stage and time left, what changed, CSV of the
current ranking."""

import csv
import io
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from service.api.deps import RunIdPath, SessionDep
from service.domain import profiles, runs
from service.errors import Conflict, NotFound
from service.web.deps import (
    FormViewerDep,
    LiveDep,
    PageRoute,
    SettingsDep,
    ViewerDep,
    csv_response,
    profile_name,
    redirect,
    render,
)

router = APIRouter(prefix="/app/runs", route_class=PageRoute, include_in_schema=False)

DIFF_SHOWN = 100
DIFFS_KEPT = 4
_diffs_lock = threading.Lock()


def changes_between(request: Request, db: Session, run_id: int, previous: int) -> list[dict]:
    """`run_diff` of two succeeded runs, remembered per app: their stored rankings never change.

    At 10k profiles the diff reads 400k stored rows (over a second) and the page is opened again
    and again (one profile after another), so the app keeps the last few diffs in memory.
    """
    key = (run_id, previous)
    with _diffs_lock:
        kept: OrderedDict[tuple[int, int], list[dict]] | None = getattr(request.app.state, "web_run_diffs", None)
        if kept is None:
            kept = request.app.state.web_run_diffs = OrderedDict()
        if key in kept:
            kept.move_to_end(key)
            return kept[key]
    changes = runs.run_diff(session=db, run_id=run_id, against=previous)
    with _diffs_lock:
        kept[key] = changes
        while len(kept) > DIFFS_KEPT:
            kept.popitem(last=False)
    return changes


@router.get("")
def runs_page(request: Request, db: SessionDep, viewer: ViewerDep) -> Response:
    viewer.require_manager()
    latest = runs.list_runs(session=db, limit=50)
    current = runs.current_run(session=db)
    return render(request, "runs.html", viewer, nav="runs", runs=latest, current=current)


@router.post("")
def start(request: Request, db: SessionDep, viewer: FormViewerDep, settings: SettingsDep) -> Response:
    """Start a re-rank in the background (as POST /jobs/rerank) and follow it on its page."""
    viewer.require_manager()
    try:
        run = runs.start_rerank(
            session=db, settings=settings, sessions=request.app.state.sessions, principal=viewer.principal
        )
    except Conflict as exc:
        viewer.flash(f"Not started: {exc.detail}.", kind="error")
        return redirect("/app/runs")
    viewer.flash(f"Re-rank #{run.id} started.", kind="info")
    return redirect(f"/app/runs/{run.id}")


@router.get("/current/suggestions.csv")
def current_suggestions_csv(request: Request, db: SessionDep, viewer: ViewerDep) -> Response:
    """The current run's stored ranking, one row per suggestion: profile, target, rank, other, score."""
    viewer.require_manager()
    run = runs.current_run(session=db)
    if run is None:
        raise NotFound("no re-ranking run has finished yet; start one on the Runs page")
    sessions = request.app.state.sessions

    def rows() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["profile", "target", "rank", "other", "score"])
        # its own session: the response streams after the request's session has closed
        with sessions() as session:
            for profile, target, rank, other, score in runs.all_stored_suggestions(session=session, run_id=run.id):
                writer.writerow([profile, target, rank, other, f"{score:.4f}"])
                if out.tell() > 64_000:
                    yield out.getvalue()
                    out.seek(0)
                    out.truncate()
        yield out.getvalue()

    return csv_response(rows(), f"suggestions-run-{run.id}.csv")


@router.get("/{run_id:int}")
def run_page(
    request: Request,
    run_id: RunIdPath,
    db: SessionDep,
    viewer: ViewerDep,
    live: LiveDep,
    profile: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """One run: its stage and time left while it works (the page refreshes itself); once done, what
    changed since the run before it."""
    viewer.require_manager()
    run = runs.get_run(session=db, run_id=run_id)
    previous = runs.previous_run_id(session=db, run_id=run.id) if run.state == "succeeded" else None
    changes = changes_between(request, db, run.id, previous) if previous is not None else []
    if profile.strip():
        # its id, or words of its name as the profile list's search finds them ("eindhoven", "Sónar")
        found = {profile.strip()} | profiles.search_profile_ids(session=db, q=profile, names_only=True)
        changes = [c for c in changes if c["profile"] in found]
    names = {c["profile"]: profile_name(live, c["profile"]) for c in changes[:DIFF_SHOWN]}
    for c in changes[:DIFF_SHOWN]:
        for kind in ("came_in", "left", "score_changed"):
            names.update({x["id"]: profile_name(live, x["id"]) for x in c[kind]})
    return render(
        request,
        "run.html",
        viewer,
        nav="runs",
        run=run,
        stages=runs.STAGES,
        previous=previous,
        changes=changes[:DIFF_SHOWN],
        changed_profiles=len({c["profile"] for c in changes}),
        hidden=max(0, len(changes) - DIFF_SHOWN),
        names=names,
        profile_filter=profile.strip(),
    )
