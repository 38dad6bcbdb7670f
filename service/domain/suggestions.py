"""Suggestions as the API and the workspace serve them: live from the index or from the current run."""

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from matching.recommend import Suggestion
from matching.scoring import Kind
from service.auth import Principal
from service.batch.runs import current_run, stored_ranking
from service.db.models import Profile, Run
from service.db.store import bloc_as_stored, excluded_ids, get_profile, list_proposals, partner_ids
from service.domain.reasons import reasons
from service.errors import FieldProblem, InvalidInput, NotFound
from service.live.index import LiveIndex, SuggestionRequest
from service.live.profiles_text import ProfileText
from service.schemas import (
    AdhocQuery,
    PhraseMatchOut,
    ScoreParts,
    SuggestionList,
    SuggestionOut,
    ThemeOut,
)

__all__ = ["theme_list", "suggestion_out", "suggestions_for", "adhoc_suggestions"]


def theme_list(live: LiveIndex, ids: list[str]) -> list[ThemeOut]:
    return [ThemeOut(id=t, label=live.theme_label(t)) for t in ids]


def suggestion_out(live: LiveIndex, rank: int, s: Suggestion, asking: ProfileText | None = None) -> SuggestionOut:
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
        parts=ScoreParts(
            dense=s.dense,
            lexical=s.lexical,
            forward=s.forward,
            backward=s.backward,
            handset=s.handset,
            features=s.features,
            contributions=s.contributions,
        ),
        reasons=reasons(live, asking, s),
        matches=[PhraseMatchOut(**m.__dict__) for m in s.matches],
        shared_themes=theme_list(live, s.shared_themes),
        shared_terms=s.shared_terms,
    )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def suggestions_for(
    *,
    session: Session,
    live: LiveIndex,
    principal: Principal,
    profile_id: str,
    ask: SuggestionRequest,
    source: str | None = None,
) -> SuggestionList:
    """A stored profile's suggestions: from the current run when asked, or by default when that run is
    newer than the profile and no filter is set; otherwise scored live."""
    principal.require_reader_of(profile_id)
    profile = get_profile(session, profile_id)
    if ask.bloc:
        # a bloc is a code, asked for in either case ("kr"); the index compares the stored spelling
        ask = replace(ask, bloc=bloc_as_stored(session, ask.bloc))
    plain = ask == SuggestionRequest(target=ask.target, k=ask.k)
    if source != "live":
        run = current_run(session)
        if source == "batch":
            if run is None:
                raise NotFound("no re-ranking run has finished yet; ask with source=live")
            if not plain:
                raise InvalidInput(
                    "a batch run stores the default ranking only; filters and diversity need source=live",
                    [
                        FieldProblem(
                            "/query/source",
                            "batch cannot be combined with bloc, country, org_type, diversity or include_partners",
                        )
                    ],
                )
        if run is not None:
            live.follow_run(run.id)
        if run is not None and plain and (source == "batch" or _utc(run.started_at) >= _utc(profile.updated_at)):
            return _mark_proposals(session, profile_id, _batch_list(session, live, run, profile_id, ask))
    found = live.suggest_for(session, profile_id, ask)
    asking = live.profile_text(profile_id)
    listed = SuggestionList(
        profile=profile_id,
        target=ask.target,
        items=[suggestion_out(live, i + 1, s, asking) for i, s in enumerate(found)],
    )
    return _mark_proposals(session, profile_id, listed)


def _mark_proposals(session: Session, profile_id: str, listed: SuggestionList) -> SuggestionList:
    """Mark the suggestions a pending proposal links to the profile (a proposal is no partnership: they stay)."""
    marks = {
        p.other_than(profile_id): "sent" if p.proposer == profile_id else "received"
        for p in list_proposals(session, profile_id)
    }
    for item in listed.items:
        item.proposal = marks.get(item.id)
    return listed


def _batch_list(session: Session, live: LiveIndex, run: Run, profile_id: str, ask: SuggestionRequest) -> SuggestionList:
    """The stored ranking, less anyone excluded or partnered since the run and anyone deleted, with the
    candidates created or changed since the run scored live and merged in by score (marked `fresh`).

    A changed candidate's stored entry is stale and gives way to its live one. Live scoring ranks
    every candidate, so a fresh one that belongs among the top k is among the live top k.
    """
    gone = excluded_ids(session, profile_id) | partner_ids(session, profile_id)
    asking = live.profile_text(profile_id)
    changed = set(
        session.scalars(
            select(Profile.id).where(
                Profile.kind == ask.target.value, Profile.updated_at > run.started_at, Profile.id != profile_id
            )
        )
    )
    ranked: list[tuple[Suggestion, bool]] = []
    for s in stored_ranking(session, run.id, profile_id, ask.target.value):
        if s.key not in gone and s.key not in changed and live.profile_text(s.key) is not None:
            ranked.append((s, False))
    if changed:
        ranked += [(s, True) for s in live.suggest_for(session, profile_id, ask) if s.key in changed]
        ranked.sort(key=lambda entry: -entry[0].score)  # stable: the run's order among its own
    items = []
    for s, fresh in ranked[: ask.k]:
        items.append(suggestion_out(live, len(items) + 1, s, asking))
        items[-1].fresh = fresh
    return SuggestionList(
        profile=profile_id, target=ask.target, source="batch", run_id=run.id, computed_at=run.finished_at, items=items
    )


def adhoc_suggestions(*, live: LiveIndex, body: AdhocQuery) -> SuggestionList:
    """Suggestions for a profile not stored (a city thinking of joining), never any of `body.exclude`."""
    query = ProfileText(
        id="",
        kind=Kind(body.kind),
        name=body.name,
        bloc=body.bloc or "",
        country=body.country or "",
        org_type=None,
        description=body.description,
        interests=tuple(body.interests),
        offers=tuple(body.offers),
    )
    ask = SuggestionRequest(
        target=Kind(body.target),
        k=body.k,
        bloc=body.target_bloc,
        country=body.target_country,
        org_type=body.org_type,
        diversity=body.diversity,
    )
    found = live.suggest_adhoc(query, ask, excluded=set(body.exclude))
    return SuggestionList(
        profile=None, target=ask.target, items=[suggestion_out(live, i + 1, s, query) for i, s in enumerate(found)]
    )
