"""Importing a bundle (JSON) or a CSV sheet: every problem listed with where it is, nothing stored unless all valid."""

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from service.api.deps import SessionDep
from service.domain.bundles import file_kind, import_draft, read_upload
from service.errors import InvalidBundle
from service.web.deps import FormViewerDep, LiveDep, PageRoute, ViewerDep, render

router = APIRouter(prefix="/app/import", route_class=PageRoute, include_in_schema=False)

SHOWN = 500


@router.get("")
def import_page(request: Request, viewer: ViewerDep) -> Response:
    viewer.require_manager()
    return render(request, "import.html", viewer, nav="import")


@router.post("")
async def upload(request: Request, db: SessionDep, viewer: FormViewerDep, live: LiveDep) -> Response:
    """Read and check the file in one pass, then import it in the request's one transaction (as POST /bundles)."""
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
        # encoding a large import takes a while: in a worker thread, never on the event loop
        summary = await run_in_threadpool(
            import_draft, session=db, live=live, draft=draft, accepted_by=viewer.principal.label
        )
    except InvalidBundle as exc:
        # the request's session is rolled back when it closes: nothing of the file is stored
        return render(
            request,
            "import.html",
            viewer,
            nav="import",
            status=exc.status,
            detail=exc.detail,
            filename=sheet.filename,
            problems=exc.errors[:SHOWN],
            more=max(0, len(exc.errors) - SHOWN),
        )
    return render(request, "import.html", viewer, nav="import", summary=summary, filename=sheet.filename)
