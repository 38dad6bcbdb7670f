"""Importing a bundle (JSON), a workbook or a CSV sheet: every problem listed with where it is, else a
preview of what the import creates and changes, stored only once confirmed, and only as previewed."""

import time
from dataclasses import replace

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from service.api.deps import SessionDep
from service.domain.bundles import file_kind, read_upload
from service.domain.import_preview import import_as_previewed, import_preview
from service.errors import Forbidden, InvalidBundle
from service.schemas import ImportPreview
from service.web.deps import FormViewerDep, LiveDep, PageRoute, SettingsDep, Viewer, ViewerDep, redirect, render
from service.web.pending_imports import PendingImport

router = APIRouter(prefix="/app/import", route_class=PageRoute, include_in_schema=False)

SHOWN = 500


@router.get("")
def import_page(request: Request, viewer: ViewerDep) -> Response:
    viewer.require_manager()
    return render(request, "import.html", viewer, nav="import")


def _problems_page(request: Request, viewer: Viewer, filename: str, exc: InvalidBundle) -> Response:
    # the request's session is rolled back when it closes: nothing of the file is stored
    return render(
        request,
        "import.html",
        viewer,
        nav="import",
        status=exc.status,
        detail=exc.detail,
        filename=filename,
        problems=exc.errors[:SHOWN],
        more=max(0, len(exc.errors) - SHOWN),
    )


def _preview_page(
    request: Request, viewer: Viewer, pending: PendingImport, preview: ImportPreview, *, limit: int, status: int = 200
) -> Response:
    fields = pending.form_fields(viewer.session)
    return render(
        request,
        "import.html",
        viewer,
        nav="import",
        status=status,
        filename=pending.filename,
        sha256=pending.sha256,
        preview=preview,
        outdated=status != 200,
        fields=fields,
        # the confirm form sends the file back: one over the request limit could not be confirmed
        too_large=sum(len(k) + len(v) + 2 for k, v in fields) > limit,
        shown=SHOWN,
    )


@router.post("")
async def upload(request: Request, db: SessionDep, viewer: FormViewerDep, settings: SettingsDep) -> Response:
    """Read and check the file in one pass, and show what importing it would do; nothing is stored."""
    viewer.require_manager()
    form = await request.form()
    sheet = form.get("file")
    if not isinstance(sheet, UploadFile) or not sheet.filename:
        return render(
            request,
            "import.html",
            viewer,
            nav="import",
            status=422,
            detail="Choose a .json bundle, an .xlsx workbook or a .csv sheet to import.",
        )
    body = await sheet.read()
    try:
        kind = file_kind(filename=sheet.filename, media_type=sheet.content_type, body=body)
        draft = await run_in_threadpool(read_upload, body, kind=kind)
        preview = await run_in_threadpool(import_preview, session=db, draft=draft)
    except InvalidBundle as exc:
        return _problems_page(request, viewer, sheet.filename, exc)
    pending = PendingImport(
        filename=sheet.filename, kind=kind, body=body, preview=preview.digest, issued=int(time.time())
    )
    return _preview_page(request, viewer, pending, preview, limit=settings.max_request_bytes)


@router.post("/confirm")
async def confirm(
    request: Request, db: SessionDep, viewer: FormViewerDep, live: LiveDep, settings: SettingsDep
) -> Response:
    """Import the previewed file in one transaction (as POST /bundles) if it still does what its
    preview said; else show what it would do now, storing nothing."""
    viewer.require_manager()
    try:
        pending = PendingImport.opened(await request.form(), viewer.session, now=time.time())
    except Forbidden as exc:
        return render(request, "import.html", viewer, nav="import", status=exc.status, detail=exc.detail)
    try:
        draft = await run_in_threadpool(read_upload, pending.body, kind=pending.kind)
        # encoding a large import takes a while: in a worker thread, never on the event loop
        result = await run_in_threadpool(
            import_as_previewed,
            session=db,
            live=live,
            draft=draft,
            digest=pending.preview,
            accepted_by=viewer.principal.label,
        )
    except InvalidBundle as exc:
        return _problems_page(request, viewer, pending.filename, exc)
    if isinstance(result, ImportPreview):
        again = replace(pending, preview=result.digest, issued=int(time.time()))
        return _preview_page(request, viewer, again, result, limit=settings.max_request_bytes, status=409)
    viewer.flash(
        f"{pending.filename} was imported: {result.profiles_created} new, {result.profiles_updated} updated and "
        f"{result.profiles_unchanged} unchanged profiles; {result.partnerships} partnerships, {result.cohorts} "
        f"cohorts, {result.exclusions} exclusions."
    )
    return redirect("/app/import")
