"""Suggestions: partner cities and collaborators for a stored profile, or for an ad-hoc query."""

from typing import Annotated

from fastapi import APIRouter, Query, Request

from matching.recommend import Suggestion
from matching.scoring import Kind
from service.api.deps import ManagerDep, PrincipalDep, SessionDep
from service.engine import LiveEngine, SuggestionRequest
from service.profiles_text import ProfileText
from service.schemas import AdhocQuery, PhraseMatchOut, ScoreParts, SuggestionList, SuggestionOut, ThemeOut
from service.store import get_profile

router = APIRouter(tags=["suggestions"])


def suggestion_out(live: LiveEngine, rank: int, s: Suggestion) -> SuggestionOut:
    text = live.profile_text(s.key)
    return SuggestionOut(
        rank=rank,
        id=s.key,
        name=text.name,
        kind=text.kind.value,
        bloc=text.bloc,
        country=text.country,
        org_type=text.org_type,
        score=s.score,
        parts=ScoreParts(dense=s.dense, lexical=s.lexical, forward=s.forward, backward=s.backward),
        matches=[PhraseMatchOut(**m.__dict__) for m in s.matches],
        shared_themes=[ThemeOut(id=t, label=live.theme_label(t)) for t in s.shared_themes],
        shared_terms=s.shared_terms,
    )


@router.get("/profiles/{profile_id}/suggestions", response_model=SuggestionList)
def profile_suggestions(
    profile_id: str,
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
) -> SuggestionList:
    principal.require_reader_of(profile_id)
    get_profile(session, profile_id)
    live: LiveEngine = request.app.state.live
    ask = SuggestionRequest(target=target, k=k, bloc=bloc, country=country, org_type=org_type, diversity=diversity, include_partners=include_partners)
    found = live.suggest_for(session, profile_id, ask)
    return SuggestionList(profile=profile_id, target=target, items=[suggestion_out(live, i + 1, s) for i, s in enumerate(found)])


@router.post("/suggestions/query", response_model=SuggestionList)
def adhoc_suggestions(body: AdhocQuery, request: Request, principal: ManagerDep) -> SuggestionList:
    live: LiveEngine = request.app.state.live
    query = ProfileText(
        id="", kind=Kind(body.kind), name=body.name, bloc=body.bloc or "", country=body.country or "", org_type=None,
        description=body.description, interests=tuple(body.interests), offers=tuple(body.offers),
    )
    ask = SuggestionRequest(
        target=Kind(body.target), k=body.k, bloc=body.target_bloc, country=body.target_country, org_type=body.org_type, diversity=body.diversity
    )
    found = live.suggest_adhoc(query, ask, excluded=set(body.exclude))
    return SuggestionList(profile=None, target=Kind(body.target), items=[suggestion_out(live, i + 1, s) for i, s in enumerate(found)])
