"""The OpenAPI document as the server answers: problem+json errors, the bearer key, a required If-Match.

FastAPI documents each route's own responses and a 422 `HTTPValidationError` of its making; this
module completes the document once, from the routes: every problem their dependencies answer with
(`service.api.deps.DEPENDENCY_PROBLEMS`), 413 where a body is read, the security scheme where a key
is needed, and `application/problem+json` as the content of every error answer.
"""

from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import BaseRoute

from service.api.deps import DEPENDENCY_PROBLEMS, get_if_match, get_principal
from service.errors import PROBLEM_JSON
from service.schemas import Problem

__all__ = ["openapi_document"]

SECURITY_SCHEME = "apiKey"
PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
# FastAPI's own description of request validation errors, which the service answers as problems
FASTAPI_SCHEMAS = ("HTTPValidationError", "ValidationError")


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, built on the first request for it and kept."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        _complete(document, app.routes)
        app.openapi_schema = document
    return app.openapi_schema


def _complete(document: dict[str, Any], routes: Sequence[BaseRoute]) -> None:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in FASTAPI_SCHEMAS:
        schemas.pop(name, None)
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    components["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "an API key (`twinning keys create`), sent as `Authorization: Bearer <key>`",
        }
    }
    # the routes as included in the app, with the prefixes and dependencies of their routers
    for route in iter_route_contexts(routes):
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            for method in route.methods:
                _complete_operation(document["paths"][route.path_format][method.lower()], route)


def _complete_operation(operation: dict[str, Any], route: RouteContext) -> None:
    calls = set(_dependency_calls(route.dependant))
    responses: dict[str, Any] = operation["responses"]
    for call in calls:
        for error in DEPENDENCY_PROBLEMS.get(call, ()):
            responses.setdefault(str(error.status), {"description": error.title})
    if "requestBody" in operation:
        responses.setdefault("413", {"description": "Payload too large: the body is over TWINNING_MAX_REQUEST_BYTES"})
    if "422" in responses and responses["422"].get("description") == "Validation Error":
        responses["422"]["description"] = "Invalid input: `errors` points at every broken rule"
    for status, response in responses.items():
        if int(status) >= 400:
            response["content"] = PROBLEM_CONTENT
    operation["responses"] = dict(sorted(responses.items()))
    if get_principal in calls:
        operation["security"] = [{SECURITY_SCHEME: []}]
    if get_if_match in calls:
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "header" and parameter["name"].lower() == "if-match":
                # optional in the route's signature only so that its absence can be answered as 428
                parameter["required"] = True
                parameter["schema"] = {"type": "string", "title": "If-Match"}


def _dependency_calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _dependency_calls(dependency)
