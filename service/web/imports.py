"""Importing a bundle (JSON) or a CSV sheet: every problem listed with where it is, nothing stored unless all valid."""

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from service.api.deps import SessionDep
from service.domain.bundles import import_bundle, parse_bundle, parse_json_bytes, parse_upload
from service.errors import InvalidBundle
from service.web.deps import FormViewerDep, LiveDep, PageRoute, ViewerDep, render

router = APIRouter(prefix="/app/import", route_class=PageRoute, include_in_schema=False)

SHOWN = 500


def _is_csv(upload: UploadFile) -> bool:
    name = (upload.filename or "").lower()
    kind = (upload.content_type or "").split(";")[0].strip().lower()
    return name.endswith(".csv") or kind in ("text/csv", "application/csv")


def where(pointer: str, raw: Any) -> str:
    """A pointer as a person reads it: `/rows/4/country` → "row 4, country"; `/profiles/2/name` names the profile."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.strip("/").split("/") if p != ""]
    if not parts:
        return "the whole file"
    if parts[0] == "rows" and len(parts) > 1:
        return f"row {parts[1]}" + (f", {' / '.join(parts[2:])}" if len(parts) > 2 else "")
    if parts[0] == "header":
        return "header row"
    if len(parts) > 1 and parts[1].isdigit():
        i = int(parts[1])
        label = f"{parts[0][:-1] if parts[0].endswith('s') else parts[0]} {i + 1}"
        items = raw.get(parts[0]) if isinstance(raw, dict) else None
        if isinstance(items, list) and i < len(items) and isinstance(items[i], dict):
            ident = items[i].get("id") or items[i].get("name")
            if isinstance(ident, str) and ident:
                label += f" (“{ident[:64]}”)"
        rest = " / ".join(parts[2:])
        return label + (f", {rest}" if rest else "")
    return " / ".join(parts)


@router.get("")
def import_page(request: Request, viewer: ViewerDep) -> Response:
    viewer.require_manager()
    return render(request, "import.html", viewer, nav="import")


@router.post("")
async def upload(request: Request, db: SessionDep, viewer: FormViewerDep, live: LiveDep) -> Response:
    """Parse, check every reference, then import in the request's one transaction (as POST /bundles)."""
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
            detail="Choose a .json bundle or a .csv sheet to import.",
        )
    body = await sheet.read()
    raw: Any = None
    try:
        if _is_csv(sheet):
            bundle = parse_upload(body, csv_sheet=True)
        else:
            try:  # read once here too, to name the profiles the problems are in
                raw = json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                raw = None
            bundle = parse_bundle(raw) if raw is not None else parse_json_bytes(body)
        # encoding a large import takes a while: in a worker thread, never on the event loop
        summary = await run_in_threadpool(
            import_bundle, session=db, live=live, bundle=bundle, accepted_by=viewer.principal.label
        )
    except InvalidBundle as exc:
        # the request's session is rolled back when it closes: nothing of the file is stored
        problems = [{"where": where(p.pointer, raw), "pointer": p.pointer, "detail": p.detail} for p in exc.errors]
        return render(
            request,
            "import.html",
            viewer,
            nav="import",
            status=exc.status,
            detail=exc.detail,
            filename=sheet.filename,
            problems=problems[:SHOWN],
            more=max(0, len(problems) - SHOWN),
        )
    return render(request, "import.html", viewer, nav="import", summary=summary, filename=sheet.filename)
