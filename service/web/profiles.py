"""The profile directory, one profile's page (phrases, themes, partnerships, proposals waiting for its answer,
exclusions), its edit form, creating a profile and deleting one (with what refers to it, for managers)."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from service.api.deps import ProfileIdPath, SessionDep
from service.domain import exclusions, partnerships, profiles, references
from service.domain.checks import check_profile_write
from service.domain.profile_merge import merge_profiles
from service.errors import AlreadyExists, FieldProblem, InvalidInput, Referenced, VersionConflict, validation_problems
from service.live.index import LiveIndex
from service.schemas import (
    ORG_TYPES,
    ProfileCreate,
    ProfileDeleted,
    ProfileFields,
    ProfileId,
    ProfileOut,
    ProfileReferences,
    QueryText,
    row_number,
)
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
from service.web.forms import PROFILE_FIELDS, ProfileForm, problems_by_field

router = APIRouter(prefix="/app/profiles", route_class=PageRoute, include_in_schema=False)
# outside /app/profiles/…, where every name is a profile id (“new” is a valid one)
creation = APIRouter(prefix="/app/new", route_class=PageRoute, include_in_schema=False)

Text = Annotated[QueryText, Query()]
# a new profile's id, checked as the API's ProfileCreate checks it
NEW_ID = TypeAdapter(ProfileId)


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


def _edit_page(
    request: Request,
    viewer: Viewer,
    profile_id: str,
    form: ProfileForm,
    *,
    base: dict[str, Any] | None,
    status: int = 200,
) -> Response:
    """The edit form; it carries `base`, the fields of the version it was opened on, for a merge if that goes stale."""
    return render(
        request,
        "profile_edit.html",
        viewer,
        nav="profiles",
        profile_id=profile_id,
        form=form,
        base_json=_carry(base),
        org_types=ORG_TYPES,
        status=status,
    )


def _fields(values: Any) -> dict[str, Any]:
    """A profile's editable fields, normalised as stored (so that equal means unchanged)."""
    return ProfileFields.model_validate({f: values.get(f) for f in PROFILE_FIELDS}).model_dump(mode="json")


def _carry(values: dict[str, Any] | None) -> str:
    return "" if values is None else json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def _carried(raw: Any, what: str, pointer: str) -> dict[str, Any] | None:
    """A profile's fields a form carries as JSON (`_carry`); None if the form has none, `InvalidInput` if damaged."""
    if raw is None or raw == "":
        return None
    try:
        return _fields(json.loads(raw) if isinstance(raw, str) else {})
    except (ValueError, ValidationError, RecursionError, AttributeError):
        raise InvalidInput(
            f"the form's copy of {what} is damaged; open the edit page again",
            [FieldProblem(pointer, "not the fields of a profile")],
        ) from None


@router.get("/{profile_id}/edit")
def edit_page(request: Request, profile_id: ProfileIdPath, db: SessionDep, viewer: ViewerDep) -> Response:
    viewer.principal.require_writer_of(profile_id)
    form = ProfileForm.from_profile(profiles.profile_out(profiles.get_profile(session=db, profile_id=profile_id)))
    return _edit_page(request, viewer, profile_id, form, base=_fields(form.values))


def _conflict_page(
    request: Request,
    viewer: Viewer,
    profile_id: str,
    *,
    base: dict[str, Any] | None,
    base_version: int | None,
    mine: dict[str, Any],
    current: dict[str, Any],
    detail: str,
    problems: list[str] | None = None,
    status: int = 412,
) -> Response:
    """Your edit merged with the version saved meanwhile: who changed what, and a choice for each true conflict."""
    merge = merge_profiles(base, mine, _fields(current))
    return render(
        request,
        "profile_conflict.html",
        viewer,
        nav="profiles",
        profile_id=profile_id,
        name=current["name"],
        merge=merge,
        base=base,
        base_version=base_version,
        current_version=current["version"],
        base_json=_carry(base),
        mine_json=_carry(mine),
        detail=detail,
        problems=problems or [],
        status=status,
    )


async def _save(
    db: Session, viewer: Viewer, live: LiveIndex, profile_id: str, *, data: ProfileFields, version: int
) -> ProfileOut:
    """Replace the profile if it is still at `version` (`VersionConflict` otherwise)."""
    # the write encodes its new text: in a worker thread, never on the event loop
    profile = await run_in_threadpool(
        profiles.replace_profile,
        session=db,
        live=live,
        principal=viewer.principal,
        profile_id=profile_id,
        data=data,
        version=version,
    )
    return profiles.profile_out(profile)


@router.post("/{profile_id}/edit")
async def edit(
    request: Request, profile_id: ProfileIdPath, db: SessionDep, viewer: FormViewerDep, live: LiveDep
) -> Response:
    """Replace the profile (PUT semantics) if it is still at the version the form was opened on; if it is not,
    merge the edit with the newer version against the one the form was opened on."""
    viewer.principal.require_writer_of(profile_id)
    profiles.get_profile(session=db, profile_id=profile_id)
    submitted = await request.form()
    form = ProfileForm.from_submission(submitted)
    base = _carried(submitted.get("base"), "the version you started from", "/base")
    fields = form.validated(db, profile_id)
    if fields is None:
        return _edit_page(request, viewer, profile_id, form, base=base, status=422)
    try:
        profile = await _save(db, viewer, live, profile_id, data=fields, version=form.version)
    except VersionConflict as exc:
        db.rollback()
        return _conflict_page(
            request,
            viewer,
            profile_id,
            base=base,
            base_version=form.version,
            mine=_fields(fields.model_dump(mode="json")),
            current=exc.extra["current"],
            detail=exc.detail,
        )
    viewer.flash(f"Saved {profile.name} (version {profile.version}).")
    return redirect(f"/app/profiles/{profile_id}")


@router.post("/{profile_id}/merge")
async def merge(
    request: Request, profile_id: ProfileIdPath, db: SessionDep, viewer: FormViewerDep, live: LiveDep
) -> Response:
    """Save (or, with `action=edit`, open in the edit form) the three-way merge of the conflict page: the editor's
    version and the one they started from, both carried by the form, against the version stored now."""
    viewer.principal.require_writer_of(profile_id)
    submitted = await request.form()
    base = _carried(submitted.get("base"), "the version you started from", "/base")
    mine = _carried(submitted.get("mine"), "your version", "/mine")
    if mine is None:
        raise InvalidInput(
            "the form lost your version of the profile; open the edit page again",
            [FieldProblem("/mine", "missing")],
        )
    raw_version = submitted.get("base_version")
    base_version = row_number(raw_version) if isinstance(raw_version, str) else None
    current = profiles.profile_out(profiles.get_profile(session=db, profile_id=profile_id)).model_dump(mode="json")

    def again(detail: str, *, problems: list[str] | None = None, status: int) -> Response:
        return _conflict_page(
            request,
            viewer,
            profile_id,
            base=base,
            base_version=base_version,
            mine=mine,
            current=current,
            detail=detail,
            problems=problems,
            status=status,
        )

    merged = merge_profiles(base, mine, _fields(current))
    choices = {name: submitted.get(f"choose_{name}") for name in merged.conflicts}
    unchosen = [name.replace("_", " ") for name, side in choices.items() if side not in ("mine", "theirs")]
    if unchosen:
        detail = f"choose yours or theirs for {', '.join(unchosen)}; nothing was saved"
        return again(detail, problems=[detail], status=422)
    result = ProfileForm(values=merged.resolved(choices), version=current["version"])
    if submitted.get("action") == "edit":
        return _edit_page(request, viewer, profile_id, result, base=_fields(current))
    fields = result.validated(db, profile_id)
    if fields is None:  # each side was valid, their merge breaks a rule (a city left without interests)
        return _edit_page(request, viewer, profile_id, result, base=_fields(current), status=422)
    try:
        profile = await _save(db, viewer, live, profile_id, data=fields, version=current["version"])
    except VersionConflict as exc:  # saved again meanwhile: merge with that one
        db.rollback()
        current = exc.extra["current"]
        return again(exc.detail, status=exc.status)
    viewer.flash(f"Saved {profile.name} (version {profile.version}): your changes merged with those saved meanwhile.")
    return redirect(f"/app/profiles/{profile_id}")


def _new_page(
    request: Request,
    viewer: Viewer,
    form: ProfileForm,
    profile_id: str,
    *,
    id_problems: list[str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "profile_new.html",
        viewer,
        nav="profiles",
        form=form,
        profile_id=profile_id,
        id_problems=id_problems or [],
        org_types=ORG_TYPES,
        status=status,
    )


def _id_problems(profile_id: str) -> list[str]:
    """What is wrong with a new profile's id, in a reader's words (the edit form has no id to check)."""
    try:
        NEW_ID.validate_python(profile_id)
    except ValidationError as exc:
        return [p.sentence for p in validation_problems(exc.errors(), prefix=("id",))]
    return []


@creation.get("/profile")
def new_page(request: Request, viewer: ViewerDep, kind: Text = "city") -> Response:
    """The form for a new city or organisation (managers; a member's profile is made with its key)."""
    viewer.require_manager()
    blank = {name: ([] if name in ("interests", "offers") else None) for name in PROFILE_FIELDS}
    form = ProfileForm(values=blank | {"kind": "organisation" if kind == "organisation" else "city"}, version=0)
    return _new_page(request, viewer, form, "")


@creation.post("/profile")
async def create(request: Request, db: SessionDep, viewer: FormViewerDep, live: LiveDep) -> Response:
    """Create the profile (as POST /profiles): its id and every field checked in one pass, each problem
    listed and shown beside its field, and nothing stored."""
    viewer.require_manager()
    submitted = await request.form()
    form = ProfileForm.from_submission(submitted)
    raw_id = submitted.get("id")
    profile_id = raw_id.strip() if isinstance(raw_id, str) else ""
    fields, problems = check_profile_write(db, profile_id=profile_id, raw=form.values)
    id_problems = _id_problems(profile_id)
    form.problems = problems_by_field(problems, form.values)
    if fields is None or id_problems:
        return _new_page(request, viewer, form, profile_id, id_problems=id_problems, status=422)
    try:
        # the write encodes its new text: in a worker thread, never on the event loop
        profile = await run_in_threadpool(
            profiles.create_profile,
            session=db,
            live=live,
            principal=viewer.principal,
            data=ProfileCreate(id=profile_id, **fields.model_dump()),
        )
    except AlreadyExists as exc:
        db.rollback()
        return _new_page(request, viewer, form, profile_id, id_problems=[exc.detail], status=exc.status)
    viewer.flash(f"Created {profile.name} ({profile.kind}, version {profile.version}).")
    return redirect(f"/app/profiles/{profile.id}")


def _named(live: LiveIndex, refs: ProfileReferences) -> dict[str, list[tuple[str, str]] | int]:
    """Each kind of reference as (id, display name) pairs (cohorts keep their ids), or as a count where
    only that may be shown (entries on other profiles' shortlists)."""
    return {
        name: held if isinstance(held, int) else [(i, i if name == "cohorts" else profile_name(live, i)) for i in held]
        for name, held in refs
        if held
    }


def _delete_page(
    request: Request,
    db: SessionDep,
    viewer: Viewer,
    live: LiveIndex,
    profile_id: str,
    *,
    detail: str | None = None,
    cascade_refused: bool = False,
    status: int = 200,
) -> Response:
    profile = profiles.get_profile(session=db, profile_id=profile_id)
    blocking = references.references_to(db, profile_id, blocking=True)
    going = references.references_to(db, profile_id, blocking=False)
    return render(
        request,
        "profile_delete.html",
        viewer,
        nav="profiles",
        profile=profiles.profile_out(profile),
        blocking=_named(live, blocking),
        going=_named(live, going),
        detail=detail,
        may_cascade=viewer.is_manager and not cascade_refused,
        status=status,
    )


@router.get("/{profile_id}/delete")
def delete_page(
    request: Request, profile_id: ProfileIdPath, db: SessionDep, viewer: ViewerDep, live: LiveDep
) -> Response:
    """What deleting the profile would take with it, and what holds it (only a manager deletes it with those)."""
    viewer.principal.require_writer_of(profile_id)
    return _delete_page(request, db, viewer, live, profile_id)


def _went(deleted: ProfileDeleted, name: str) -> str:
    """What a delete took with it, in words, for the message after it."""
    parts = [
        f"{held} {'entry' if held == 1 else 'entries'} on other profiles' shortlists"
        if isinstance(held, int)
        else f"{len(held)} {kind}"
        for kind, held in deleted.removed
        if held
    ]
    if deleted.keys_revoked:
        parts.append(f"{deleted.keys_revoked} member {'key' if deleted.keys_revoked == 1 else 'keys'} revoked")
    return f"Deleted {name}" + (f"; with it went {', '.join(parts)}." if parts else ".")


@router.post("/{profile_id}/delete")
async def delete(
    request: Request, profile_id: ProfileIdPath, db: SessionDep, viewer: FormViewerDep, live: LiveDep
) -> Response:
    """Delete the profile at the version the page showed (as DELETE /profiles/{id}, `cascade` for managers)."""
    viewer.principal.require_writer_of(profile_id)
    form = await request.form()
    raw = form.get("version")
    version = row_number(raw) if isinstance(raw, str) else None
    cascade = form.get("cascade") == "true"
    if version is None:
        raise InvalidInput(
            "the form lost the version of the profile; open the delete page again",
            [FieldProblem("/version", f"{raw!r} is not a version number")],
        )
    name = profile_name(live, profile_id)
    try:
        # the live index's update waits for its lock: in a worker thread, never on the event loop
        deleted = await run_in_threadpool(
            profiles.delete_profile,
            session=db,
            live=live,
            principal=viewer.principal,
            profile_id=profile_id,
            version=version,
            cascade=cascade,
        )
    except (Referenced, VersionConflict) as exc:
        db.rollback()
        return _delete_page(
            request,
            db,
            viewer,
            live,
            profile_id,
            detail=exc.detail,
            cascade_refused=cascade and isinstance(exc, Referenced),
            status=exc.status,
        )
    viewer.flash(_went(deleted, name))
    return redirect("/app/profiles")
