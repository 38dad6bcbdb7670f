"""Downloads for spreadsheets: the stored profiles and the whole bundle, a profile's current suggestions,
a cohort's pairing (Excel workbooks, `service.domain.workbooks`), and the blank import template."""

import json

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from service.api.deps import CohortIdPath, ProfileIdPath, SessionDep
from service.domain import cohorts, profiles, workbooks
from service.domain.bundles import XLSX_MEDIA_TYPE, export_bundle
from service.domain.pairing import pairing_view
from service.domain.suggestions import suggestions_for
from service.errors import InvalidInput
from service.web.cohorts import valid_pairing_options
from service.web.deps import LiveDep, PageRoute, ViewerDep
from service.web.suggestions import SuggestionFilters

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _download(content: bytes, filename: str, media_type: str = XLSX_MEDIA_TYPE) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
    return Response(content, media_type=media_type, headers=headers)


@router.get("/app/import/template.xlsx")
def template(viewer: ViewerDep) -> Response:
    """The blank import template: the profile columns, an example row and a sheet explaining each column."""
    viewer.require_manager()
    return _download(workbooks.template_workbook(), "twinning-profiles-template.xlsx")


@router.get("/app/export/profiles.xlsx")
async def profiles_xlsx(db: SessionDep, viewer: ViewerDep) -> Response:
    """Every stored profile as a workbook that the import page reads back unchanged."""
    viewer.require_manager()
    content = await run_in_threadpool(workbooks.profiles_workbook, session=db)
    return _download(content, "twinning-profiles.xlsx")


@router.get("/app/export/bundle.json")
def bundle_json(db: SessionDep, viewer: ViewerDep) -> Response:
    """Everything stored, as the bundle `GET /bundles` answers with."""
    viewer.require_manager()
    content = json.dumps(export_bundle(session=db), ensure_ascii=False, indent=2).encode("utf-8")
    return _download(content, "twinning-bundle.json", "application/json")


@router.get("/app/profiles/{profile_id}/suggestions.xlsx")
async def suggestions_xlsx(
    request: Request, profile_id: ProfileIdPath, db: SessionDep, viewer: ViewerDep, live: LiveDep
) -> Response:
    """The suggestions the page shows with the same filters, as a workbook."""
    viewer.principal.require_reader_of(profile_id)
    profile = profiles.get_profile(session=db, profile_id=profile_id)
    filters, _, problems = SuggestionFilters.read(dict(request.query_params))
    if problems:
        raise InvalidInput("the suggestion filters are not valid", problems)
    found = suggestions_for(
        session=db, live=live, principal=viewer.principal, profile_id=profile_id, ask=filters.request()
    )
    content = await run_in_threadpool(workbooks.suggestions_workbook, found, profile_name=profile.name)
    return _download(content, f"suggestions-{profile_id}-{filters.target.value}.xlsx")


@router.get("/app/cohorts/{cohort_id}/pairing.xlsx")
async def pairing_xlsx(
    request: Request, cohort_id: CohortIdPath, db: SessionDep, viewer: ViewerDep, live: LiveDep
) -> Response:
    """The proposed pairing with the board's options, as a workbook (as pairing.csv, with names and reasons)."""
    viewer.require_manager()
    cohort = cohorts.get_cohort(session=db, cohort_id=cohort_id)
    proposal = pairing_view(session=db, live=live, cohort=cohort, options=valid_pairing_options(request))
    content = await run_in_threadpool(workbooks.pairing_workbook, proposal, cohort_name=cohort.name)
    return _download(content, f"pairing-{cohort_id}.xlsx")
