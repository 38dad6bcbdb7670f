"""Suggestions: partner cities and collaborators for a stored profile, or for an ad-hoc query."""

from datetime import datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from matching.explain import PhraseMatch
from matching.recommend import Suggestion
from matching.scoring import Kind
from service.api.deps import ManagerDep, PrincipalDep, SessionDep
from service.engine import LiveEngine, SuggestionRequest
from service.profiles_text import ProfileText
from service.schemas import AdhocQuery, PhraseMatchOut, ScoreParts, SuggestionList, SuggestionOut, ThemeOut
from service.errors import FieldProblem, InvalidInput, NotFound
from service.jobs import current_run
from service.runs import stored_suggestions
from service.store import excluded_ids, get_profile, partner_ids

router = APIRouter(tags=["suggestions"])


def theme_list(live: LiveEngine, ids: list[str]) -> list[ThemeOut]:
    return [ThemeOut(id=t, label=live.theme_label(t)) for t in ids]


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
        shared_themes=theme_list(live, s.shared_themes),
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
    source: Annotated[
        Literal["live", "batch"] | None,
        Query(description="batch: the current run's stored ranking; default: batch when that run is newer than the profile"),
    ] = None,
) -> SuggestionList:
    principal.require_reader_of(profile_id)
    profile = get_profile(session, profile_id)
    live: LiveEngine = request.app.state.live
    ask = SuggestionRequest(target=target, k=k, bloc=bloc, country=country, org_type=org_type, diversity=diversity, include_partners=include_partners)
    plain = ask == SuggestionRequest(target=target, k=k)
    if source != "live":
        run = current_run(session)
        if source == "batch":
            if run is None:
                raise NotFound("no re-ranking run has finished yet; ask with source=live")
            if not plain:
                raise InvalidInput(
                    "a batch run stores the default ranking only; filters and diversity need source=live",
                    [FieldProblem("/query/source", "batch cannot be combined with bloc, country, org_type, diversity or include_partners")],
                )
        if run is not None and plain and (source == "batch" or _utc(run.started_at) >= _utc(profile.updated_at)):
            return _batch_list(session, live, run, profile_id, target, k)
    found = live.suggest_for(session, profile_id, ask)
    return SuggestionList(profile=profile_id, target=target, items=[suggestion_out(live, i + 1, s) for i, s in enumerate(found)])


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _batch_list(session, live: LiveEngine, run, profile_id: str, target: Kind, k: int) -> SuggestionList:
    """The stored ranking, less anyone excluded or partnered since the run and anyone deleted."""
    gone = excluded_ids(session, profile_id) | partner_ids(session, profile_id)
    items = []
    for row in stored_suggestions(session, run.id, profile_id, target.value):
        if row.other_id in gone or live.profile_text(row.other_id) is None:
            continue
        d = row.detail
        stored = Suggestion(
            key=row.other_id, score=row.score, dense=d["parts"]["dense"], lexical=d["parts"]["lexical"],
            forward=d["parts"]["forward"], backward=d["parts"]["backward"], matches=[PhraseMatch(**m) for m in d["matches"]],
            shared_themes=d["shared_themes"], shared_terms=d["shared_terms"],
        )
        items.append(suggestion_out(live, len(items) + 1, stored))
        if len(items) == k:
            break
    return SuggestionList(profile=profile_id, target=target, source="batch", run_id=run.id, computed_at=run.finished_at, items=items)


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
