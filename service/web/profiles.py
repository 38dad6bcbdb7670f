"""The profile directory, one profile's page (phrases, themes, partnerships, exclusions) and its edit form."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from service.db import store
from service.api.deps import ProfileIdPath, SessionDep
from service.live.index import LiveIndex
from service.errors import VersionConflict
from service.db.models import Exclusion, Partnership
from service.schemas import ORG_TYPES, QueryText
from service.web.deps import FormViewerDep, LiveDep, PageRoute, SettingsDep, Viewer, ViewerDep, profile_name, redirect, render
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
    filters = {"q": q.strip(), "kind": kind, "bloc": bloc.strip(), "country": country.strip().upper(), "org_type": org_type}
    rows, next_cursor, total = store.list_profiles(
        db, **{k: _blank(v) for k, v in filters.items()}, cursor=_blank(cursor), limit=settings.page_size
    )
    return render(
        request, "profiles.html", viewer, nav="profiles", rows=rows, total=total, next_cursor=next_cursor,
        filters=filters, first_page=not cursor, org_types=ORG_TYPES,
    )


def phrase_themes(live: LiveIndex, profile_id: str) -> dict[str, list[str]]:
    """Each phrase of a profile with the labels of its themes, from the live index's tagger."""
    recommender = live.recommender_ready()
    if recommender.tagger is None:
        return {}
    with live.mutex:
        if profile_id not in recommender.index:
            return {}
        vectors = recommender.index.vectors_of(profile_id)
    tags = recommender.tagger.tag(vectors.vectors)
    return {text: [recommender.tagger.label(t) for t, _ in found] for text, found in zip(vectors.texts, tags)}


def _other(pair: Partnership | Exclusion, profile_id: str) -> str:
    """The other side of a stored pair (partnership or exclusion), which keeps its ids sorted."""
    return pair.b if pair.a == profile_id else pair.a


@router.get("/{profile_id}")
def profile_page(request: Request, profile_id: ProfileIdPath, db: SessionDep, viewer: ViewerDep, live: LiveDep) -> Response:
    profile = store.profile_out(store.get_profile(db, profile_id))
    partnerships = exclusions = None
    # reading a profile is open to every key (as GET /profiles/{id}); its relations are not
    if viewer.can_read(profile_id):
        partnerships = [
            {"other": other, "name": profile_name(live, other), "programme": p.programme, "themes": p.themes or [], "accepted_by": p.accepted_by}
            for p in store.list_partnerships(db, profile_id)
            if (other := _other(p, profile_id))
        ]
        exclusions = [
            {"other": other, "name": profile_name(live, other), "reason": e.reason, "created_by": e.created_by, "created_at": e.created_at}
            for e in store.list_exclusions(db, profile_id)
            if (other := _other(e, profile_id))
        ]
    city_name = profile_name(live, profile.city) if profile.city else None
    return render(
        request, "profile.html", viewer, nav="profiles", profile=profile, themes=phrase_themes(live, profile_id),
        partnerships=partnerships, exclusions=exclusions, city_name=city_name,
    )


def _edit_page(request: Request, viewer: Viewer, profile_id: str, form: ProfileForm, *, status: int = 200) -> Response:
    return render(request, "profile_edit.html", viewer, nav="profiles", profile_id=profile_id, form=form, org_types=ORG_TYPES, status=status)


@router.get("/{profile_id}/edit")
def edit_page(request: Request, profile_id: ProfileIdPath, db: SessionDep, viewer: ViewerDep) -> Response:
    viewer.principal.require_writer_of(profile_id)
    return _edit_page(request, viewer, profile_id, ProfileForm.from_profile(store.profile_out(store.get_profile(db, profile_id))))


@router.post("/{profile_id}/edit")
async def edit(request: Request, profile_id: ProfileIdPath, db: SessionDep, viewer: FormViewerDep, live: LiveDep) -> Response:
    """Replace the profile (PUT semantics) if it is still at the version the form was opened on."""
    viewer.principal.require_writer_of(profile_id)
    store.get_profile(db, profile_id)
    form = ProfileForm.from_submission(await request.form())
    fields = form.validated()
    if fields is None:
        return _edit_page(request, viewer, profile_id, form, status=422)
    try:
        profile = store.replace_profile(db, profile_id, fields, form.version)
    except VersionConflict as exc:
        current = ProfileForm.from_profile(exc.extra["current"])
        changed = {f for f in form.values if form.values[f] != current.values[f]}
        retry = ProfileForm(values=form.values, version=current.version)
        return render(
            request, "profile_conflict.html", viewer, nav="profiles", profile_id=profile_id, mine=form, current=current,
            changed=changed, retry=retry, org_types=ORG_TYPES, detail=exc.detail, status=exc.status,
        )
    db.commit()
    live.profiles_changed([profile_id])
    viewer.flash(f"Saved {profile.name} (version {profile.version}).")
    return redirect(f"/app/profiles/{profile_id}")
