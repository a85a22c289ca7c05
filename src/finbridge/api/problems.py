"""RFC 9457 problem details: the one place errors become HTTP responses."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from finbridge.core import errors as e

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    code: str,
    request: Request | None = None,
    instance: str | None = None,
    field: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> JSONResponse:
    if instance is None and request is not None:
        instance = request.url.path
    body = e.problem_document(
        status, title, detail, code=code, instance=instance, field=field, errors=errors or None,
        **extra,
    )  # fmt: skip
    return _response(status, body)


def problem_for(exc: e.FinbridgeError, instance: str) -> JSONResponse:
    """The problem document for one of our errors."""
    return _response(*e.problem_of(exc, instance))


def _response(status: int, body: dict[str, Any]) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if status == 429:  # every 429 says when to come back (RateLimited carries retry_after)
        headers["Retry-After"] = str(int(body.get("retry_after") or 1))
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(e.FinbridgeError)
    async def _finbridge(request: Request, exc: e.FinbridgeError) -> JSONResponse:
        return problem_for(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_field_error(err) for err in exc.errors()]
        first: dict[str, str] = errors[0] if errors else {"field": "", "message": "invalid request"}
        detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        return problem(
            422,
            "Invalid input",
            detail,
            code="validation_error",
            request=request,
            field=first["field"] or None,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = problem(
            exc.status_code,
            str(exc.detail),
            str(exc.detail),
            code=f"http_{exc.status_code}",
            request=request,
        )
        # Keep what the framework said in headers (``Allow`` on a 405, ``Retry-After``...).
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        if exc.status_code == 405:
            # Starlette names only the first route on the path; every one of them is allowed.
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return response


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route fully matches on this path (asked the router, not guessed)."""
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(r.matches(scope)[0] is Match.FULL for r in request.app.router.routes):
            allowed.append(method)
    return allowed


def _field_error(err: Any) -> dict[str, str]:
    if err.get("type") == "json_invalid":
        # loc is ("body", <character offset>): name the body, say where the JSON broke.
        where = err["loc"][-1] if len(err["loc"]) > 1 else "?"
        reason = (err.get("ctx") or {}).get("error", "invalid JSON")
        return {"field": "body", "message": f"malformed JSON at character {where}: {reason}"}
    message = str(err["msg"]).removeprefix("Value error, ")
    return {"field": ".".join(str(p) for p in err["loc"] if p != "body"), "message": message}
