"""Bundles in and out: all-or-nothing import of JSON bundles or CSV sheets, and export."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from service.api.deps import LiveDep, ManagerDep, SessionDep
from service.domain import bundles
from service.domain.import_preview import import_preview
from service.errors import Conflict, InvalidBundle, problems
from service.schemas import Bundle, ImportPreview, ImportSummary

router = APIRouter(prefix="/bundles", tags=["bundles"])


@router.post(
    "",
    response_model=ImportSummary | ImportPreview,
    responses=problems(InvalidBundle, Conflict),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object", "description": "a twinning.bundle/1 document"}},
                "text/csv": {
                    "schema": {
                        "type": "string",
                        "description": "one row per profile, cells `,`- or `;`-separated, phrases `;`-separated",
                    }
                },
                bundles.XLSX_MEDIA_TYPE: {
                    "schema": {"type": "string", "format": "binary", "description": "the CSV's columns, as a workbook"}
                },
            },
        }
    },
)
async def import_bundle(
    request: Request,
    session: SessionDep,
    live: LiveDep,
    principal: ManagerDep,
    dry_run: Annotated[
        bool, Query(description="store nothing: answer what the import would create, change and leave")
    ] = False,
) -> ImportSummary | ImportPreview:
    """Import all or nothing; with `dry_run`, the preview the workspace shows, every problem as the import's."""
    body = await request.body()
    kind = bundles.file_kind(filename=None, media_type=request.headers.get("content-type"), body=body)
    # parsing and encoding take a while for a large bundle: in a worker thread, never on the event loop
    draft = await run_in_threadpool(bundles.read_upload, body, kind=kind)
    if dry_run:
        return await run_in_threadpool(import_preview, session=session, draft=draft)
    return await run_in_threadpool(
        bundles.import_draft, session=session, live=live, draft=draft, accepted_by=principal.label
    )


@router.get("", response_model=Bundle)
def export_bundle(session: SessionDep, principal: ManagerDep) -> Bundle:
    """Everything stored, as one bundle that `POST /bundles` imports again unchanged."""
    return Bundle.model_validate(bundles.export_bundle(session=session))
