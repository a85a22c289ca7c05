"""RFC 9457 problem details: the one place errors become HTTP responses."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from finbridge.core import errors as e

PROBLEM_JSON = "application/problem+json"

# Members of the problem document itself; an error's extra data never overrides them.
_RESERVED = frozenset({"type", "title", "status", "detail", "code", "instance", "field", "errors"})


def status_for(exc: e.FinbridgeError) -> int:
    return e.http_status(exc)


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
    body: dict[str, Any] = {
        "type": f"https://finbridge.dev/problems/{code.replace('_', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if request is not None or instance is not None:
        body["instance"] = instance if instance is not None else request.url.path  # type: ignore[union-attr]
    if field is not None:
        body["field"] = field
    if errors:
        body["errors"] = errors
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_for(exc: e.FinbridgeError, instance: str) -> JSONResponse:
    """The problem document for one of our errors (also used by ``api.hot``)."""
    return problem(
        status_for(exc),
        exc.title,
        exc.detail,
        code=exc.code,
        instance=instance,
        field=exc.field,
        **{k: v for k, v in exc.extra.items() if _jsonable(v) and k not in _RESERVED},
    )


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
        return problem(
            exc.status_code,
            str(exc.detail),
            str(exc.detail),
            code=f"http_{exc.status_code}",
            request=request,
        )


def _field_error(err: Any) -> dict[str, str]:
    if err.get("type") == "json_invalid":
        # loc is ("body", <character offset>): name the body, say where the JSON broke.
        where = err["loc"][-1] if len(err["loc"]) > 1 else "?"
        reason = (err.get("ctx") or {}).get("error", "invalid JSON")
        return {"field": "body", "message": f"malformed JSON at character {where}: {reason}"}
    message = str(err["msg"]).removeprefix("Value error, ")
    return {"field": ".".join(str(p) for p in err["loc"] if p != "body"), "message": message}


def _jsonable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, list, dict, type(None)))
