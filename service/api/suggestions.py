"""Suggestions: partner cities and collaborators for a stored profile, or for an ad-hoc query."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from matching.scoring import Kind
from service.api.deps import LiveDep, ManagerDep, PrincipalDep, ProfileIdPath, SessionDep
from service.domain import decisions, partnerships, suggestions
from service.errors import Conflict, Forbidden, InvalidInput, NotFound, ProfileNotFound, problems
from service.live.index import SuggestionRequest
from service.schemas import (
    AcceptOut,
    AdhocQuery,
    Bloc,
    CountryFilter,
    DecisionReport,
    OrgType,
    PartnershipOut,
    Scope,
    SuggestionDecisions,
    SuggestionList,
)

router = APIRouter(tags=["suggestions"])


@router.get(
    "/profiles/{profile_id}/suggestions",
    response_model=SuggestionList,
    responses=problems(Forbidden, ProfileNotFound, NotFound, InvalidInput),
)
def profile_suggestions(
    profile_id: ProfileIdPath,
    session: SessionDep,
    live: LiveDep,
    principal: PrincipalDep,
    target: Kind = Kind.CITY,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    bloc: Annotated[Bloc | None, Query(description="only this bloc (default for cities: any other bloc)")] = None,
    country: Annotated[
        CountryFilter | None, Query(description="only this country (ISO 3166-1 alpha-2, either case)")
    ] = None,
    org_type: Annotated[OrgType | None, Query()] = None,
    diversity: Annotated[
        float, Query(ge=0, le=1, description="0 = pure score order; higher spreads suggestions across themes")
    ] = 0.0,
    include_partners: bool = False,
    scope: Annotated[
        Scope,
        Query(
            description="organisations: the asking city's own, its country's, or any "
            "(the learned locality prior weighs in)"
        ),
    ] = "any",
    source: Annotated[
        Literal["live", "batch"] | None,
        Query(
            description="batch: the current run's stored ranking; "
            "default: batch when that run is newer than the profile"
        ),
    ] = None,
) -> SuggestionList:
    ask = SuggestionRequest(
        target=target,
        k=k,
        bloc=bloc,
        country=country,
        org_type=org_type,
        diversity=diversity,
        include_partners=include_partners,
        scope=scope,
    )
    return suggestions.suggestions_for(
        session=session, live=live, principal=principal, profile_id=profile_id, ask=ask, source=source
    )


@router.post("/suggestions/query", response_model=SuggestionList)
def query_suggestions(body: AdhocQuery, live: LiveDep, principal: ManagerDep) -> SuggestionList:
    return suggestions.adhoc_suggestions(live=live, body=body)


@router.post(
    "/profiles/{profile_id}/suggestions/{other}/accept",
    response_model=AcceptOut,
    responses=problems(Forbidden, ProfileNotFound, InvalidInput)
    | {
        409: {
            "description": "a member proposed across an exclusion between the two, or another decision on "
            "the pair came first"
        }
    },
)
def accept(profile_id: ProfileIdPath, other: ProfileIdPath, session: SessionDep, principal: PrincipalDep) -> AcceptOut:
    """Accept a suggestion. A member's accept proposes a partnership (`state: proposed`) until the other side
    accepts in turn or a manager confirms it; a manager's records it at once. Only agreed partnerships
    stop being suggested."""
    return partnerships.accept_suggestion(session=session, principal=principal, profile_id=profile_id, other=other)


@router.post(
    "/profiles/{profile_id}/suggestions/decisions",
    response_model=DecisionReport,
    responses=problems(Forbidden, ProfileNotFound, InvalidInput),
)
def decide(
    profile_id: ProfileIdPath, body: SuggestionDecisions, session: SessionDep, principal: PrincipalDep
) -> DecisionReport:
    """Accept or reject several suggestions at once, each as its own accept or reject would: with the same
    rules, and each refusal reported in its item with the status and problem that decision answers with."""
    return decisions.decide_each(
        session=session,
        principal=principal,
        profile_id=profile_id,
        action=body.action,
        others=body.others,
        reason=body.reason,
    )


@router.get(
    "/profiles/{profile_id}/partnerships",
    response_model=list[PartnershipOut],
    responses=problems(Forbidden, ProfileNotFound),
)
def list_partnerships(profile_id: ProfileIdPath, session: SessionDep, principal: PrincipalDep) -> list[PartnershipOut]:
    """A profile's agreed partnerships, then its proposals: sent ones, and those waiting for its answer."""
    return partnerships.list_partnerships(session=session, principal=principal, profile_id=profile_id)


@router.delete(
    "/profiles/{profile_id}/partnerships/{other}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(Forbidden, NotFound, Conflict),
)
def delete_partnership(
    profile_id: ProfileIdPath, other: ProfileIdPath, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Withdraw or decline a proposal, or end a partnership: a member may end one both members agreed to;
    a programme's, a manager's or an imported one only a manager may (403)."""
    partnerships.delete_partnership(session=session, principal=principal, profile_id=profile_id, other=other)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
