"""Domain exceptions, and the one place that turns them into RFC 9457 problem+json answers."""

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.wording import plain, shown

__all__ = [
    "FieldProblem",
    "TwinningError",
    "NotFound",
    "ProfileNotFound",
    "VersionConflict",
    "PreconditionRequired",
    "InvalidInput",
    "InvalidBundle",
    "AlreadyExists",
    "NotAuthenticated",
    "Forbidden",
    "Conflict",
    "Referenced",
    "problem_response",
    "problems",
    "validation_problems",
    "install_error_handlers",
    "pointer",
]

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class FieldProblem:
    """One broken rule: where (a JSON pointer such as `/profiles/3/country`) and what.

    Those of a file or a form also say it as its reader would: `where` ("row 4, column country"),
    the offending `value` as text, and `message`, a sentence about that value. A client reads
    `pointer` and `detail`; a person reads the others.
    """

    pointer: str
    detail: str
    where: str | None = None
    value: str | None = None
    message: str | None = None

    def as_dict(self) -> dict[str, str]:
        words = {"where": self.where, "value": self.value, "message": self.message}
        return {"pointer": self.pointer, "detail": self.detail} | {k: v for k, v in words.items() if v is not None}

    @property
    def sentence(self) -> str:
        """What a person reads: the message, or the detail where there is none."""
        return self.message or self.detail


def pointer(loc: tuple[Any, ...] | list[Any]) -> str:
    """Turn a pydantic location into a JSON pointer, dropping the `body` root FastAPI adds."""
    parts = [str(p) for p in loc if p not in ("body",)]
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass
class TwinningError(Exception):
    """Base of every error the service answers on purpose; `status` picks the HTTP code."""

    detail: str
    errors: list[FieldProblem] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    status = 400
    title = "Bad request"

    def __str__(self) -> str:
        lines = [self.detail] + [
            f"  {e.where}: {e.sentence} ({e.pointer})" if e.where else f"  {e.pointer}: {e.detail}" for e in self.errors
        ]
        return "\n".join(lines)


class InvalidInput(TwinningError):
    status, title = 422, "Invalid input"


class InvalidBundle(InvalidInput):
    title = "Invalid bundle"


class NotFound(TwinningError):
    status, title = 404, "Not found"


class ProfileNotFound(NotFound):
    title = "Profile not found"


class AlreadyExists(TwinningError):
    status, title = 409, "Already exists"


class Conflict(TwinningError):
    status, title = 409, "Conflict"


class Referenced(Conflict):
    """Deleting it would change what others hold (partnerships, exclusions, cohorts, organisations)."""

    title = "Still referenced"


class VersionConflict(TwinningError):
    status, title = 412, "Version conflict"


class PreconditionRequired(TwinningError):
    status, title = 428, "Precondition required"


class NotAuthenticated(TwinningError):
    status, title = 401, "Not authenticated"


class Forbidden(TwinningError):
    status, title = 403, "Forbidden"


def problem_response(
    status: int, title: str, detail: str, instance: str, errors: list[FieldProblem] = (), **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problems(*errors: type[TwinningError]) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: the problems it answers with, one entry per status (its errors' titles).

    The problems its dependencies answer with (authentication, roles, If-Match) are added by
    `service.api.openapi`, which also gives every error answer its problem+json content.
    """
    titles: dict[int, list[str]] = {}
    for error in errors:
        titles.setdefault(error.status, []).append(error.title)
    return {status: {"description": "; ".join(dict.fromkeys(names))} for status, names in sorted(titles.items())}


def validation_problems(errors: list[dict[str, Any]], prefix: tuple[Any, ...] = ()) -> list[FieldProblem]:
    """Pydantic errors as field problems, each with its value and a plain message (`service.wording`);
    a model-level rule names its field as `field: message`, and its value is that field's."""
    problems = []
    for e in errors:
        loc, msg = tuple(prefix) + tuple(e["loc"]), e["msg"].removeprefix("Value error, ")
        # a missing field's input is the object it is missing from, a model rule's the whole object
        value = None if e["type"] == "missing" else e.get("input")
        field_name, sep, rest = msg.partition(": ")
        if sep and field_name.isidentifier() and e["type"] == "value_error":
            loc, msg = loc + (field_name,), rest
            value = value.get(field_name) if isinstance(value, dict) else None
            e = e | {"msg": rest}
        elif isinstance(value, dict):
            value = None
        problems.append(FieldProblem(pointer(loc), msg, value=shown(value), message=plain(e)))
    return problems


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TwinningError)
    async def _domain(request: Request, exc: TwinningError) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, request.url.path, exc.errors, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = validation_problems(list(exc.errors()))
        detail = "; ".join(f"{p.pointer}: {p.detail}" for p in problems[:5])
        return problem_response(422, "Invalid input", detail, request.url.path, problems)

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> JSONResponse:
        # Two writers sent the same If-Match: both passed the version check, and the second one's
        # UPDATE (or DELETE) found the row at a newer version. It lost the race, as a stale If-Match does.
        conflict = VersionConflict(
            "it changed while your write was under way (another write came first); "
            "fetch it again and re-apply your change"
        )
        return await _domain(request, conflict)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, _title(exc.status_code), str(exc.detail), request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        response = problem_response(
            500, "Internal server error", "an unexpected error occurred; nothing was changed", request.url.path
        )
        # the server closes the connection after an unhandled error: say so, or the client sends its
        # next request down a connection that is gone
        response.headers["Connection"] = "close"
        return response


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
