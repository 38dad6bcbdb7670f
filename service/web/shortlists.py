"""A profile's shortlist page, and saving, re-noting and removing its entries from any page."""

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from pydantic import ValidationError

from service.api.deps import ProfileIdPath, SessionDep
from service.domain import profiles, shortlists
from service.errors import validation_problems
from service.schemas import MAX_NOTE, ShortlistNote
from service.web.deps import FormViewerDep, LiveDep, PageRoute, ViewerDep, local_path, profile_name, redirect, render

router = APIRouter(prefix="/app/profiles/{profile_id}/shortlist", route_class=PageRoute, include_in_schema=False)

Back = Annotated[str, Form(max_length=2000)]
# a note over MAX_NOTE is answered on the page it came from; only a body far beyond it is refused outright
NoteField = Annotated[str, Form(max_length=4 * MAX_NOTE)]


@router.get("")
def shortlist_page(request: Request, profile_id: ProfileIdPath, db: SessionDep, viewer: ViewerDep) -> Response:
    entries = shortlists.list_shortlist(session=db, principal=viewer.principal, profile_id=profile_id)
    profile = profiles.profile_out(profiles.get_profile(session=db, profile_id=profile_id))
    return render(
        request,
        "shortlist.html",
        viewer,
        nav="profiles",
        profile=profile,
        entries=entries,
        max_note=MAX_NOTE,
        here=request.url.path,
    )


@router.post("/{other}")
def save(
    profile_id: ProfileIdPath,
    other: ProfileIdPath,
    db: SessionDep,
    viewer: FormViewerDep,
    live: LiveDep,
    note: NoteField = "",
    back: Back = "",
) -> Response:
    """Keep a profile on the shortlist with a note, or change its note (as PUT /profiles/{id}/shortlist/{other})."""
    back = local_path(back, f"/app/profiles/{profile_id}/shortlist")
    try:
        body = ShortlistNote.model_validate({"note": note})
    except ValidationError as exc:
        problem = validation_problems(exc.errors())[0]
        viewer.flash(f"The note is not valid ({problem.detail}); nothing was saved.", kind="error")
        return redirect(back)
    _, created = shortlists.save_to_shortlist(
        session=db, principal=viewer.principal, profile_id=profile_id, other=other, note=body.note
    )
    mine, theirs = profile_name(live, profile_id), profile_name(live, other)
    viewer.flash(
        f"{theirs} is on the shortlist of {mine}." if created else f"The note on {theirs} was saved.",
        undo_url=f"/app/profiles/{profile_id}/shortlist/{other}/remove" if created else None,
        back=back,
    )
    return redirect(back)


@router.post("/{other}/remove")
def remove(
    profile_id: ProfileIdPath,
    other: ProfileIdPath,
    db: SessionDep,
    viewer: FormViewerDep,
    live: LiveDep,
    back: Back = "",
) -> Response:
    """Take a profile off the shortlist (as DELETE /profiles/{id}/shortlist/{other})."""
    shortlists.remove_from_shortlist(session=db, principal=viewer.principal, profile_id=profile_id, other=other)
    viewer.flash(f"{profile_name(live, other)} is off the shortlist of {profile_name(live, profile_id)}.", kind="info")
    return redirect(local_path(back, f"/app/profiles/{profile_id}/shortlist"))
