"""Bundles in and out: all-or-nothing import of JSON bundles or CSV sheets, and export."""

from fastapi import APIRouter, Request

from service.db import store
from service.api.deps import ManagerDep, SessionDep
from service.domain.bundles import import_validated, parse_upload
from service.schemas import ImportSummary

router = APIRouter(prefix="/bundles", tags=["bundles"])


@router.post(
    "",
    response_model=ImportSummary,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object", "description": "a twinning.bundle/1 document"}},
                "text/csv": {"schema": {"type": "string", "description": "one row per profile, phrases `;`-separated"}},
            },
        }
    },
)
async def import_bundle(request: Request, session: SessionDep, principal: ManagerDep) -> ImportSummary:
    body = await request.body()
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    bundle = parse_upload(body, csv_sheet=content_type in ("text/csv", "application/csv"))
    summary, changed = import_validated(session, bundle, accepted_by=principal.label)
    session.commit()
    request.app.state.live.profiles_changed(changed)
    return summary


@router.get("")
def export_bundle(session: SessionDep, principal: ManagerDep) -> dict:
    return store.export_bundle(session)
