"""The notice board: what waits for the signed-in key, and what is new since it last looked.

Its count is what is new since the last visit, so a visit clears it; a proposal stays on the board
until it is answered, marked new only until the visit after it came.

For a member (its profile's): the proposals waiting for its answer, the suggestions (its default
partner-city list) it did not have at its last visit, and what the current run changed for it. For a
manager or an admin (the programme's): the proposals waiting for anyone's answer and the runs that
finished since its last visit. A visit (`record_visit`) is per key: it keeps when it was and the
suggestions seen then, so what it saw stops counting as new.
"""

from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from matching.scoring import Kind
from service.auth import Principal
from service.batch import runs as batch_runs
from service.db import store
from service.db.models import NoticeVisit, PartnershipProposal
from service.domain import runs
from service.domain.suggestions import suggestions_for
from service.errors import NotFound
from service.live.index import LiveIndex, SuggestionRequest
from service.schemas import NoticeBoard, ProposalNotice, RunChange, RunNotice, RunOut, SuggestionNotice

__all__ = ["notice_board", "record_visit"]

# what a manager is shown of the runs that finished since its last visit, at most
RECENT_RUNS = 20


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _after(moment: datetime | None, visit: NoticeVisit | None) -> bool:
    return moment is not None and (visit is None or _utc(moment) > _utc(visit.visited_at))


def _name(live: LiveIndex, profile_id: str) -> str:
    text = live.profile_text(profile_id)
    return text.name if text else profile_id


def _waiting(live: LiveIndex, rows: list[PartnershipProposal], visit: NoticeVisit | None) -> list[ProposalNotice]:
    return [
        ProposalNotice(
            profile=p.waiting_for,
            profile_name=_name(live, p.waiting_for),
            proposer=p.proposer,
            proposer_name=_name(live, p.proposer),
            proposed_by=p.proposed_by,
            created_at=p.created_at,
            new=_after(p.created_at, visit),
        )
        for p in rows
    ]


def notice_board(*, session: Session, live: LiveIndex, principal: Principal) -> NoticeBoard:
    """The asking key's notice board, new things counted against its last visit (nothing is recorded)."""
    visit = store.get_notice_visit(session, principal.key_id)
    last_visit = visit.visited_at if visit else None
    if principal.is_manager or principal.profile_id is None:
        finished = [
            r
            for r in batch_runs.list_runs(session, RECENT_RUNS)
            if r.state != "running" and _after(r.finished_at, visit)
        ]
        waiting = _waiting(live, store.proposals_waiting(session), visit)
        return NoticeBoard(
            profile=None,
            last_visit=last_visit,
            waiting=waiting,
            new_suggestions=[],
            suggested=[],
            last_run=None,
            runs_finished=[RunOut(**runs.run_out(r)) for r in finished],
            count=sum(p.new for p in waiting) + len(finished),
        )
    profile_id = principal.profile_id
    if not store.profiles_by_ids(session, [profile_id]):
        # a member key made before its profile: nothing waits for a profile that does not exist yet
        return NoticeBoard(
            profile=profile_id,
            last_visit=last_visit,
            waiting=[],
            new_suggestions=[],
            suggested=[],
            last_run=None,
            runs_finished=[],
            count=0,
        )
    waiting = _waiting(live, store.proposals_waiting(session, profile_id), visit)
    listed = suggestions_for(
        session=session, live=live, principal=principal, profile_id=profile_id, ask=SuggestionRequest(target=Kind.CITY)
    )
    seen = set(visit.seen_suggestions) if visit else set()
    new = [SuggestionNotice(id=s.id, name=s.name, rank=s.rank, score=s.score) for s in listed.items if s.id not in seen]
    last_run = _last_run(session, profile_id, visit)
    news = (
        sum(p.new for p in waiting)
        + len(new)
        + int(last_run is not None and last_run.since_visit and bool(last_run.changes))
    )
    return NoticeBoard(
        profile=profile_id,
        last_visit=last_visit,
        waiting=waiting,
        new_suggestions=new,
        suggested=[s.id for s in listed.items],
        last_run=last_run,
        runs_finished=[],
        count=news,
    )


def _last_run(session: Session, profile_id: str, visit: NoticeVisit | None) -> RunNotice | None:
    """What the current run changed for the profile against the succeeded run before it."""
    run = runs.current_run(session=session)
    if run is None:
        return None
    try:
        diff = runs.diff_against(session=session, run_id=run.id, against="PREVIOUS", profile_id=profile_id)
    except NotFound:  # the first run: nothing to compare with
        return RunNotice(
            run=run.id,
            finished_at=run.finished_at,
            against=None,
            since_visit=_after(run.finished_at, visit),
            changes=[],
        )
    return RunNotice(
        run=run.id,
        finished_at=run.finished_at,
        against=diff["against"],
        since_visit=_after(run.finished_at, visit),
        changes=[RunChange.model_validate(c) for c in diff["changes"]],
    )


def record_visit(*, session: Session, principal: Principal, board: NoticeBoard) -> None:
    """Mark what `board` showed as seen: from now on only what is newer counts as new."""
    for attempt in range(2):
        store.record_notice_visit(session, principal.key_id, board.suggested)
        try:
            session.commit()
            return
        except IntegrityError:
            # a first visit of the same key in another tab was stored meanwhile: this one replaces it
            session.rollback()
            if attempt:
                raise
