"""API keys, for admins: the list, a new key (its secret shown once, on the answer to the form), revoking one."""

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from service.api.deps import SessionDep
from service.api.keys import KeyIdPath
from service.domain import keys
from service.errors import InvalidInput, validation_problems
from service.schemas import KeyCreate, KeyCreated
from service.web.deps import FormViewerDep, PageRoute, Viewer, ViewerDep, redirect, render

router = APIRouter(prefix="/app/keys", route_class=PageRoute, include_in_schema=False)

ROLES = ("member", "manager", "admin")


def _keys_page(
    request: Request,
    db: SessionDep,
    viewer: Viewer,
    *,
    values: dict | None = None,
    problems: dict[str, list[str]] | None = None,
    created: KeyCreated | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "keys.html",
        viewer,
        nav="keys",
        keys=[keys.key_out(k) for k in keys.list_keys(session=db)],
        roles=ROLES,
        values=values or {"role": "member", "name": "", "profile_id": ""},
        problems=problems or {},
        created=created,
        status=status,
    )


@router.get("")
def key_list(request: Request, db: SessionDep, viewer: ViewerDep) -> Response:
    viewer.require_admin()
    return _keys_page(request, db, viewer)


@router.post("")
async def create(request: Request, db: SessionDep, viewer: FormViewerDep) -> Response:
    """Create a key (as POST /keys) and show its secret on this answer only: it is never stored nor shown again,
    so the page is not a redirect (the answer is not cached: every page is `no-store`)."""
    viewer.require_admin()
    form = await request.form()
    values = {name: str(form.get(name) or "").strip() for name in ("role", "name", "profile_id")}
    try:
        body = KeyCreate.model_validate({k: v or None for k, v in values.items()})
        created = keys.create(session=db, body=body)
    except ValidationError as exc:
        problems: dict[str, list[str]] = {}
        for p in validation_problems(exc.errors()):
            problems.setdefault(p.pointer.strip("/").split("/")[0], []).append(p.detail)
        return _keys_page(request, db, viewer, values=values, problems=problems, status=422)
    except InvalidInput as exc:
        db.rollback()
        return _keys_page(request, db, viewer, values=values, problems={"": [exc.detail]}, status=exc.status)
    return _keys_page(request, db, viewer, created=created, status=201)


@router.post("/{key_id}/revoke")
def revoke(key_id: KeyIdPath, db: SessionDep, viewer: FormViewerDep) -> Response:
    """Revoke a key at once and for good (as POST /keys/{id}/revoke); revoking the viewer's own key signs it out."""
    viewer.require_admin()
    key = keys.revoke_key(session=db, key=keys.get_key(session=db, key_id=key_id))
    viewer.flash(f"Revoked {keys.key_out(key).label} ({key.prefix}…): it is refused everywhere from now on.")
    return redirect("/app/keys")
