"""What every page shares: the signed-in viewer, CSRF checks, rendering, and errors shown as pages.

Pages authenticate with the session cookie (see `sessions.py`) and then obey exactly the rules of
the API: the viewer's `Principal` is the one an API key would give, and routes call its
`require_*` methods before acting.
"""

import hmac
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from service.api.deps import LiveDep, SessionDep, SettingsDep
from service.auth import Principal, Role, principal_for_key_id
from service.domain import notices
from service.errors import FieldProblem, Forbidden, NotAuthenticated, TwinningError, validation_problems
from service.live.index import LiveIndex
from service.web.highlight import mark_shared
from service.web.sessions import SESSION_COOKIE, Flash, SessionStore, WebSession
from service.web.sign_in_limit import SignInLimit

__all__ = [
    "PageRoute",
    "Viewer",
    "ViewerDep",
    "FormViewerDep",
    "LiveDep",
    "SettingsDep",
    "render",
    "redirect",
    "csv_response",
    "profile_name",
    "local_path",
    "session_store",
    "sign_in_limit",
    "templates",
]

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
TEMPLATES = Path(__file__).resolve().parent / "templates"


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _when(moment: datetime | None) -> str:
    """A stored time in UTC (SQLite hands back naive UTC, PostgreSQL the session's zone)."""
    if moment is None:
        return "–"
    return (moment.astimezone(UTC) if moment.tzinfo else moment).strftime("%Y-%m-%d %H:%M")


def _query(params: Mapping[str, Any], **changes: Any) -> str:
    """A query string from the given parameters with some changed; empty values are left out."""
    return urlencode([(k, v) for k, v in (dict(params) | changes).items() if v not in (None, "", False)], doseq=True)


templates = Jinja2Templates(directory=TEMPLATES)
templates.env.filters |= {"marked": mark_shared, "score": _score, "when": _when}
templates.env.globals["query"] = _query

# Pages may load only what this app serves: no inline script or style, no framing by other sites.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def session_store(request: Request) -> SessionStore:
    """The app's session store, made with the app; the sessions themselves live in the database."""
    return request.app.state.web_sessions


def sign_in_limit(request: Request) -> SignInLimit:
    """The app's sign-in rate limit, made with the app; the attempts it counts live in the database."""
    return request.app.state.sign_in_limit


@dataclass(frozen=True)
class Viewer:
    """The signed-in person: their API principal and their browser session."""

    principal: Principal
    session: WebSession

    @property
    def csrf(self) -> str:
        return self.session.csrf

    @property
    def is_manager(self) -> bool:
        return self._allowed(self.require_manager)

    def require_manager(self) -> None:
        """Programme-wide actions (pairing, runs, imports) are for managers and admins, as in the API."""
        self.principal.require(Role.ADMIN, Role.MANAGER)

    @property
    def is_admin(self) -> bool:
        return self._allowed(self.require_admin)

    def require_admin(self) -> None:
        """Keys are for admins only, as in the API."""
        self.principal.require(Role.ADMIN)

    def can_read(self, profile_id: str) -> bool:
        return self._allowed(lambda: self.principal.require_reader_of(profile_id))

    def can_write(self, profile_id: str) -> bool:
        return self._allowed(lambda: self.principal.require_writer_of(profile_id))

    def flash(self, text: str, kind: str = "success", **undo: Any) -> None:
        self.session.add_flash(Flash(text=text, kind=kind, **undo))

    @staticmethod
    def _allowed(check: Callable[[], None]) -> bool:
        # the rules live in Principal; asking them is how a page decides what to offer
        try:
            check()
        except Forbidden:
            return False
        return True


def get_viewer(request: Request, db: SessionDep) -> Viewer:
    store = session_store(request)
    web = store.get(request.cookies.get(SESSION_COOKIE))
    if web is None:
        raise NotAuthenticated("sign in to continue")
    try:
        # the key's row, read on every request: a revoked key's sessions end at once, in every process
        principal = principal_for_key_id(db, web.key_id)
    except NotAuthenticated:
        store.close(web.token)
        raise
    request.state.principal = principal  # what service.api.deps.get_principal reads
    viewer = request.state.viewer = Viewer(principal=principal, session=web)
    return viewer


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


async def get_form_viewer(request: Request, viewer: ViewerDep) -> Viewer:
    """The viewer of a POSTed form, whose hidden `csrf` field must carry the session's token."""
    form = await request.form()
    sent = form.get("csrf")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), viewer.csrf.encode()):
        raise Forbidden("this form has expired or did not come from this site; reload the page and try again")
    return viewer


FormViewerDep = Annotated[Viewer, Depends(get_form_viewer)]


def render(
    request: Request, template: str, viewer: Viewer | None, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """A whole page; one-time messages waiting in the session are shown on it and dropped."""
    flashes: list[Flash] = []
    if viewer is not None:
        flashes = viewer.session.take_flashes()
        own = viewer.principal.profile_id
        if own and context.get("nav") == "profiles" and request.url.path.split("/")[3:4] == [own]:
            context["nav"] = "mine"
        if "notice_count" not in context:
            context["notice_count"] = _notice_count(request, viewer.principal)
    context |= {"viewer": viewer, "flashes": flashes}
    response = templates.TemplateResponse(request, template, context, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def _notice_count(request: Request, principal: Principal) -> int:
    """What is new on the viewer's notice board, for the navigation (read in a session of its own:
    the page's may be rolled back after an error)."""
    with request.app.state.sessions() as db:
        return notices.notice_board(session=db, live=request.app.state.live, principal=principal).count


def redirect(url: str) -> RedirectResponse:
    """After a POST: see the result with a GET, so reloading never repeats the action."""
    return RedirectResponse(url, status_code=303)


def csv_response(content: str | Iterator[str], filename: str) -> Response:
    """A CSV download, whole or streamed in chunks; the byte-order mark makes spreadsheet programs read it as UTF-8."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
    if isinstance(content, str):
        return Response("\ufeff" + content, media_type=CSV_MEDIA_TYPE, headers=headers)
    return StreamingResponse(chain(["\ufeff"], content), media_type=CSV_MEDIA_TYPE, headers=headers)


def profile_name(live: LiveIndex, profile_id: str) -> str:
    """A profile's display name from the live index (no query), or its id if it is gone."""
    text = live.profile_text(profile_id)
    return text.name if text else profile_id


def local_path(value: str | None, default: str) -> str:
    """`value` if it is a path of this workspace, else `default`: a form field never sends anyone off-site."""
    if not value or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not (parts.path == "/app" or parts.path.startswith("/app/")):
        return default
    return value


class PageRoute(APIRoute):
    """A route whose domain errors become pages: sign-in for 401, a readable page for the rest."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                response = await handle(request)
            except NotAuthenticated:
                target = "/app/login"
                if request.method == "GET" and request.url.path != "/app/login":
                    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    target += f"?next={quote(path, safe='')}"
                response = redirect(target)
                if SESSION_COOKIE in request.cookies:
                    response.delete_cookie(SESSION_COOKIE, path="/app")
                return response
            except TwinningError as exc:
                response = _error_page(request, exc.status, exc.title, exc.detail, exc.errors)
            except RequestValidationError as exc:
                problems = validation_problems(list(exc.errors()))
                response = _error_page(
                    request, 422, "Invalid input", "some values in the address are not valid", problems
                )
            # before the answer leaves: a message queued for the page after a redirect is stored by then
            viewer = getattr(request.state, "viewer", None)
            if viewer is not None and viewer.session.changed:
                await run_in_threadpool(session_store(request).save, viewer.session)
            return response

        return page


def _error_page(request: Request, status: int, title: str, detail: str, errors: list[FieldProblem]) -> HTMLResponse:
    viewer = getattr(request.state, "viewer", None)
    return render(
        request, "error.html", viewer, status=status, title=title, detail=detail, errors=errors, status_code=status
    )
