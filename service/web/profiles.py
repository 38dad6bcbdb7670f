"""The profile directory, one profile's page (phrases, themes, partnerships, proposals waiting for its answer,
exclusions) and its edit form."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from service.api.deps import ProfileIdPath, SessionDep
from service.domain import exclusions, partnerships, profiles
from service.errors import VersionConflict
from service.schemas import ORG_TYPES, QueryText
from service.web.deps import (
    FormViewerDep,
    LiveDep,
    PageRoute,
    SettingsDep,
    Viewer,
    ViewerDep,
    profile_name,
    redirect,
    render,
)
from service.web.forms import ProfileForm

router = APIRouter(prefix="/app/profiles", route_class=PageRoute, include_in_schema=False)

Text = Annotated[QueryText, Query()]


def _blank(value: str) -> str | None:
    return value.strip() or None


@router.get("")
def directory(
    request: Request,
    db: SessionDep,
    viewer: ViewerDep,
    settings: SettingsDep,
    q: Text = "",
    kind: Text = "",
    bloc: Text = "",
    country: Text = "",
    org_type: Text = "",
    cursor: Text = "",
) -> Response:
    filters = {
        "q": q.strip(),
        "kind": kind,
        "bloc": bloc.strip(),
        # the picker sends a code; a link may carry a name ("Netherlands") or a code in either case
        "country": profiles.country_code(country) or country.strip().upper(),
        "org_type": org_type,
    }
    rows, next_cursor, total = profiles.list_profiles(
        session=db, **{k: _blank(v) for k, v in filters.items()}, cursor=_blank(cursor), limit=settings.page_size
    )
    return render(
        request,
        "profiles.html",
        viewer,
        nav="profiles",
        rows=rows,
        total=total,
        next_cursor=next_cursor,
        filters=filters,
        first_page=not cursor,
        org_types=ORG_TYPES,
        countries=profiles.country_choices(session=db, chosen=filters["country"] or None),
    )


@router.get("/{profile_id}")
def profile_page(
    request: Request, profile_id: ProfileIdPath, db: SessionDep, viewer: ViewerDep, live: LiveDep
) -> Response:
    profile = profiles.profile_out(profiles.get_profile(session=db, profile_id=profile_id))
    partners = excluded = waiting = None
    # reading a profile is open to every key (as GET /profiles/{id}); its relations are not
    if viewer.can_read(profile_id):
        listed = [
            p.model_dump() | {"name": profile_name(live, p.partner)}
            for p in partnerships.list_partnerships(session=db, principal=viewer.principal, profile_id=profile_id)
        ]
        waiting = [p for p in listed if p["waiting_for"] == profile_id]
        partners = [p for p in listed if p["waiting_for"] != profile_id]
        excluded = [
            e.model_dump()
            | {
                "name": profile_name(live, e.excluded),
                "maker_name": profile_name(live, e.maker) if e.maker else None,
            }
            for e in exclusions.list_exclusions(session=db, principal=viewer.principal, profile_id=profile_id)
        ]
    city_name = profile_name(live, profile.city) if profile.city else None
    return render(
        request,
        "profile.html",
        viewer,
        nav="profiles",
        profile=profile,
        themes=live.phrase_themes(profile_id),
        partnerships=partners,
        waiting=waiting,
        exclusions=excluded,
        city_name=city_name,
    )


def _edit_page(request: Request, viewer: Viewer, profile_id: str, form: ProfileForm, *, status: int = 200) -> Response:
    return render(
        request,
        "profile_edit.html",
        viewer,
        nav="profiles",
        profile_id=profile_id,
        form=form,
        org_types=ORG_TYPES,
        status=status,
    )


@router.get("/{profile_id}/edit")
def edit_page(request: Request, profile_id: ProfileIdPath, db: SessionDep, viewer: ViewerDep) -> Response:
    viewer.principal.require_writer_of(profile_id)
    return _edit_page(
        request,
        viewer,
        profile_id,
        ProfileForm.from_profile(profiles.profile_out(profiles.get_profile(session=db, profile_id=profile_id))),
    )


@router.post("/{profile_id}/edit")
async def edit(
    request: Request, profile_id: ProfileIdPath, db: SessionDep, viewer: FormViewerDep, live: LiveDep
) -> Response:
    """Replace the profile (PUT semantics) if it is still at the version the form was opened on."""
    viewer.principal.require_writer_of(profile_id)
    profiles.get_profile(session=db, profile_id=profile_id)
    form = ProfileForm.from_submission(await request.form())
    fields = form.validated(db, profile_id)
    if fields is None:
        return _edit_page(request, viewer, profile_id, form, status=422)
    try:
        # the write encodes its new text: in a worker thread, never on the event loop
        profile = await run_in_threadpool(
            profiles.replace_profile,
            session=db,
            live=live,
            principal=viewer.principal,
            profile_id=profile_id,
            data=fields,
            version=form.version,
        )
    except VersionConflict as exc:
        current = ProfileForm.from_profile(exc.extra["current"])
        changed = {f for f in form.values if form.values[f] != current.values[f]}
        retry = ProfileForm(values=form.values, version=current.version)
        return render(
            request,
            "profile_conflict.html",
            viewer,
            nav="profiles",
            profile_id=profile_id,
            mine=form,
            current=current,
            changed=changed,
            retry=retry,
            org_types=ORG_TYPES,
            detail=exc.detail,
            status=exc.status,
        )
    viewer.flash(f"Saved {profile.name} (version {profile.version}).")
    return redirect(f"/app/profiles/{profile_id}")
