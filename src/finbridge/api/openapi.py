"""The OpenAPI description says what the API really answers on errors: RFC 9457 problem
documents (``application/problem+json``) for 400, 401, 403, 404, 409, 413, 422, 429 and 503.

FastAPI documents a 422 ``HTTPValidationError`` as ``application/json``, which is not what
``api/problems.py`` sends; a fuzzer checking responses against the description (schemathesis in
CI) would rightly call every error a violation. The description is generated once, then every
``/v1`` operation gets the problem responses; the 405 answers carry ``Allow``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from finbridge.api.problems import PROBLEM_JSON

_REF = {"$ref": "#/components/schemas/Problem"}

PROBLEM_STATUSES: dict[str, str] = {
    "400": "Malformed request (unparseable body)",
    "401": "Missing or invalid credentials",
    "403": "Authenticated but not allowed (scope, role, step-up required)",
    "404": "Not found, or not yours to know about",
    "409": "Conflict with the current state (idempotency key reused for another request)",
    "413": "Request body larger than the configured limit",
    "422": "Invalid input or refused by a business rule; `field` names the input",
    "429": "Rate limited; retry after the `Retry-After` header's seconds",
    "503": "A dependency (database, Redis) is not reachable",
}


class Problem(BaseModel):
    """An RFC 9457 problem document, as every error of the API is answered."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the kind of problem")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    code: str = Field(description="Stable machine-readable code")
    instance: str | None = None
    field: str | None = Field(default=None, description="The input the problem is about")
    errors: list[dict[str, Any]] | None = None


def install_openapi(app: FastAPI) -> None:
    """Generate the description on first request, with the problem responses added."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        add_problem_responses(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def add_problem_responses(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)  # FastAPI's own 422 shape is never sent
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith("/v1"):
            continue
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, description in PROBLEM_STATUSES.items():
                entry: dict[str, Any] = {
                    "description": description,
                    "content": {PROBLEM_JSON: {"schema": _REF}},
                }
                if status == "429":
                    entry["headers"] = {
                        "Retry-After": {
                            "description": "Seconds to wait before trying again",
                            "schema": {"type": "integer"},
                        }
                    }
                responses[status] = entry
    schema.setdefault("info", {})["x-problem-content-type"] = PROBLEM_JSON
