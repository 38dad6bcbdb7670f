"""The OpenAPI document says what the server does: problem+json errors, the key, If-Match, timestamps."""

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import DATA
from tests.factories import city

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def document(tmp_path_factory) -> dict:
    """The document is the same on either database: read it once, as served."""
    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('doc') / 'twinning.db'}", data_dir=DATA)
    )
    document = TestClient(app).get("/openapi.json").json()
    app.state.engine.dispose()
    return document


def _operations(document: dict):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation


def test_every_error_answer_is_a_problem_and_every_answer_has_a_schema(document):
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for label, operation in _operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"] == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}, label
            elif status != "204":
                assert response["content"]["application/json"]["schema"], label


def test_routes_document_the_problems_they_answer_with(document):
    def statuses(method: str, path: str) -> set[str]:
        return set(document["paths"][path][method]["responses"])

    assert {"401", "403", "404", "409", "412", "422", "428"} <= statuses("delete", "/profiles/{profile_id}")
    assert {"401", "403", "404", "412", "413", "422", "428"} <= statuses("patch", "/profiles/{profile_id}")
    assert {"401", "403", "409", "413", "422"} <= statuses("post", "/profiles")
    assert {"401", "403", "409", "413", "422"} <= statuses("post", "/bundles")
    assert {"202", "401", "403", "409"} <= statuses("post", "/jobs/rerank")
    assert {"401", "403", "404", "422"} <= statuses("get", "/runs/{run_id}/diff")
    assert set(document["paths"]["/health"]["get"]["responses"]) == {"200"}


def test_the_bearer_key_is_a_security_scheme_on_every_route_but_health(document):
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["apiKey"]["description"],
    }
    for label, operation in _operations(document):
        if label == "GET /health":
            assert "security" not in operation
        else:
            assert operation["security"] == [{"apiKey": []}], label


def test_if_match_is_required_where_its_absence_is_428(document):
    for method in ("put", "patch", "delete"):
        (header,) = [
            p for p in document["paths"]["/profiles/{profile_id}"][method]["parameters"] if p["in"] == "header"
        ]
        assert header["name"] == "if-match" and header["required"] is True


def test_timestamps_are_rfc_3339_in_utc_and_the_same_in_post_and_get(client, keys):
    h = keys.auth("admin")
    created = client.post("/profiles", json=city("eindhoven"), headers=h)
    assert created.status_code == 201
    read = client.get("/profiles/eindhoven", headers=h).json()
    assert read["created_at"] == created.json()["created_at"]
    listed = client.get("/profiles", headers=h).json()["items"][0]
    for stamp in (read["created_at"], read["updated_at"], listed["created_at"], listed["updated_at"]):
        assert datetime.fromisoformat(stamp).utcoffset().total_seconds() == 0, stamp
