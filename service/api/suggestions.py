"""Suggestions: partner cities and collaborators for a stored profile, or for an ad-hoc query."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status

from matching.scoring import Kind
from service.db import store
from service.api.deps import ManagerDep, PrincipalDep, ProfileIdPath, SessionDep
from service.live.index import LiveIndex, SuggestionRequest
from service.live.profiles_text import ProfileText
from service.schemas import AcceptOut, AdhocQuery, SuggestionList
from service.domain.suggestions import accept_suggestion, adhoc_suggestions, suggestions_for

router = APIRouter(tags=["suggestions"])


@router.get("/profiles/{profile_id}/suggestions", response_model=SuggestionList)
def profile_suggestions(
    profile_id: ProfileIdPath,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    target: Kind = Kind.CITY,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    bloc: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="only this bloc (default for cities: any other bloc)")] = None,
    country: Annotated[str | None, Query(pattern="^[A-Za-z]{2}$")] = None,
    org_type: Annotated[str | None, Query(pattern="^(company|university|research_centre|public_agency|ngo|network|other)$")] = None,
    diversity: Annotated[float, Query(ge=0, le=1, description="0 = pure score order; higher spreads suggestions across themes")] = 0.0,
    include_partners: bool = False,
    scope: Annotated[
        Literal["local", "national", "any"],
        Query(description="organisations: the asking city's own, its country's, or any (the learned locality prior weighs in)"),
    ] = "any",
    source: Annotated[
        Literal["live", "batch"] | None,
        Query(description="batch: the current run's stored ranking; default: batch when that run is newer than the profile"),
    ] = None,
) -> SuggestionList:
    ask = SuggestionRequest(
        target=target, k=k, bloc=bloc, country=country, org_type=org_type, diversity=diversity, include_partners=include_partners, scope=scope
    )
    return suggestions_for(session, request.app.state.live, principal, profile_id, ask, source)


@router.post("/suggestions/query", response_model=SuggestionList)
def query_suggestions(body: AdhocQuery, request: Request, principal: ManagerDep) -> SuggestionList:
    live: LiveIndex = request.app.state.live
    query = ProfileText(
        id="", kind=Kind(body.kind), name=body.name, bloc=body.bloc or "", country=body.country or "", org_type=None,
        description=body.description, interests=tuple(body.interests), offers=tuple(body.offers),
    )
    ask = SuggestionRequest(
        target=Kind(body.target), k=body.k, bloc=body.target_bloc, country=body.target_country, org_type=body.org_type, diversity=body.diversity
    )
    return adhoc_suggestions(live, query, ask, excluded=set(body.exclude))


@router.post("/profiles/{profile_id}/suggestions/{other}/accept", response_model=AcceptOut)
def accept(profile_id: ProfileIdPath, other: ProfileIdPath, session: SessionDep, principal: PrincipalDep) -> AcceptOut:
    """Accept a suggestion: it becomes a partnership, and is no longer suggested."""
    return accept_suggestion(session, principal, profile_id, other)


@router.delete("/profiles/{profile_id}/partnerships/{other}", status_code=status.HTTP_204_NO_CONTENT)
def delete_partnership(profile_id: ProfileIdPath, other: ProfileIdPath, session: SessionDep, principal: PrincipalDep) -> Response:
    """Undo an accepted partnership."""
    principal.require_reader_of(profile_id)
    store.delete_partnership(session, profile_id, other)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
