"""Signing in with an API key (exchanged for a session cookie), signing out, and the start page.

Sign-ins are rate-limited per client address (`sign_in_limit.py`): past the limit the form answers
429 with `Retry-After`, whatever the key.
"""

import hmac
import math
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response

from service.api.deps import SessionDep
from service.auth import principal_for_secret
from service.errors import Forbidden, NotAuthenticated
from service.web.deps import (
    FormViewerDep,
    PageRoute,
    Viewer,
    ViewerDep,
    local_path,
    redirect,
    render,
    session_store,
    sign_in_limit,
)
from service.web.sessions import LOGIN_COOKIE, SESSION_COOKIE
from service.web.sign_in_limit import client_address

router = APIRouter(prefix="/app", route_class=PageRoute, include_in_schema=False)


def _cookie_flags(request: Request) -> dict:
    return {"httponly": True, "samesite": "strict", "secure": request.url.scheme == "https", "path": "/app"}


def home_of(viewer: Viewer) -> str:
    """Where a viewer starts: a member at its own profile, everyone else at the directory."""
    own = viewer.principal.profile_id
    return f"/app/profiles/{own}" if own else "/app/profiles"


@router.get("")
def home(viewer: ViewerDep) -> Response:
    return redirect(home_of(viewer))


def _login_form(request: Request, *, status: int = 200, error: str | None = None, next_url: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        None,
        status=status,
        error=error,
        login_token=token,
        next_url=next_url,
        signed_out=request.query_params.get("signed_out") == "1",
    )
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, **_cookie_flags(request))
    return response


@router.get("/login")
def login_page(request: Request, next_url: Annotated[str, Query(alias="next", max_length=2000)] = "") -> Response:
    return _login_form(request, next_url=local_path(next_url, ""))


@router.post("/login")
def login(
    request: Request,
    db: SessionDep,
    key: Annotated[str, Form(max_length=200)] = "",
    login_token: Annotated[str, Form(max_length=200)] = "",
    next_url: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), login_token.encode()):
        raise Forbidden("the sign-in form has expired or did not come from this site; reload it and try again")
    next_url = local_path(next_url, "")
    limit = sign_in_limit(request)
    attempt = limit.begin(client_address(request))
    if attempt.refused:
        response = _login_form(
            request,
            status=429,
            error=f"Too many sign-in attempts from your address. Wait {_duration(attempt.retry_after)} and try again.",
            next_url=next_url,
        )
        response.headers["Retry-After"] = str(attempt.retry_after)
        return response
    try:
        principal = principal_for_secret(db, key.strip())
    except NotAuthenticated:
        return _login_form(
            request, status=401, error="That API key is not valid. Check it and try again.", next_url=next_url
        )
    limit.forget(attempt)
    store = session_store(request)
    store.close(request.cookies.get(SESSION_COOKIE))  # a fresh token on every sign-in
    web = store.open(principal.key_id)
    response = redirect(local_path(next_url, home_of(Viewer(principal, web))))
    response.set_cookie(SESSION_COOKIE, web.token, **_cookie_flags(request))
    response.delete_cookie(LOGIN_COOKIE, path="/app")
    return response


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


@router.post("/logout")
def logout(request: Request, viewer: FormViewerDep) -> Response:
    session_store(request).close(viewer.session.token)
    response = redirect("/app/login?signed_out=1")
    response.delete_cookie(
        SESSION_COOKIE, path="/app", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    return response
