"""The notice board of the asking key: what waits for its answer and what is new since it last looked."""

from fastapi import APIRouter

from service.api.deps import LiveDep, PrincipalDep, SessionDep
from service.domain import notices
from service.schemas import NoticeBoard

router = APIRouter(tags=["notices"])


@router.get("/notices", response_model=NoticeBoard)
def notice_board(session: SessionDep, live: LiveDep, principal: PrincipalDep) -> NoticeBoard:
    """For a member: proposals waiting for its profile's answer, suggestions new since its last visit and
    what the current run changed for it; for a manager: proposals waiting across profiles and runs finished
    since its last visit. Reading it marks nothing seen."""
    return notices.notice_board(session=session, live=live, principal=principal)


@router.post("/notices/seen", response_model=NoticeBoard)
def mark_seen(session: SessionDep, live: LiveDep, principal: PrincipalDep) -> NoticeBoard:
    """Record a visit: the board as it was seen is answered, and what it showed stops counting as new."""
    board = notices.notice_board(session=session, live=live, principal=principal)
    notices.record_visit(session=session, principal=principal, board=board)
    return board
