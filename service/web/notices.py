"""The notice board page: proposals to answer, new suggestions, what the last run changed, runs finished."""

from fastapi import APIRouter, Request, Response

from service.api.deps import SessionDep
from service.domain import notices
from service.web.deps import LiveDep, PageRoute, ViewerDep, render

router = APIRouter(prefix="/app/notices", route_class=PageRoute, include_in_schema=False)


@router.get("")
def notice_board_page(request: Request, db: SessionDep, viewer: ViewerDep, live: LiveDep) -> Response:
    """The board as it stands, new things marked; viewing it is the visit (as POST /notices/seen)."""
    board = notices.notice_board(session=db, live=live, principal=viewer.principal)
    notices.record_visit(session=db, principal=viewer.principal, board=board)
    return render(request, "notices.html", viewer, nav="notices", board=board, notice_count=0)
