"""The one place errors become the JSON envelope {"error": {code, message, details}, "request_id"}."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hostplane import errors

log = logging.getLogger("hostplane.api")


def request_id_of(request: Request) -> str:
    return getattr(request.state, "request_id", "") or ""


def envelope(
    request_id: str,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "error": {"code": code, "message": message, "details": details or {}, **(extra or {})},
        "request_id": request_id,
    }
    body["error"].setdefault("retryable", status in (429, 503))
    return JSONResponse(body, status_code=status, headers=headers)


def _hostplane_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.HostplaneError)
    headers = None
    if isinstance(exc, errors.RateLimited):
        headers = {"Retry-After": str(max(1, int(exc.retry_after + 0.999)))}
    return envelope(
        request_id_of(request), exc.status, exc.code, exc.message, exc.details, exc.extra, headers
    )


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        kind = err.get("type", "")
        field = _field_of(loc)
        if kind == "json_invalid":
            rule = "the body must be valid JSON"
            fix = "Send a JSON object with Content-Type: application/json."
            field = "body"
        elif kind == "missing":
            rule, fix = "required", f"Add {field}."
        else:
            rule, fix = err.get("msg", "invalid"), f"Correct {field}."
        problems.append({"field": field, "location": loc[0] if loc else "body", "rule": rule,
                         "fix": fix, "type": kind})
    first = problems[0] if problems else {"field": "body", "rule": "invalid", "fix": "Correct it."}
    message = f"{first['field']}: {first['rule']}."
    if len(problems) > 1:
        message += f" ({len(problems) - 1} more problem(s) in details.errors)"
    details = {"field": first["field"], "rule": first["rule"], "fix": first["fix"],
               "errors": problems}
    return envelope(request_id_of(request), 422, "VALIDATION_FAILED", message, details)


_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "TOO_LARGE",
}


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    if exc.status_code == 404:
        message = f"No route {request.method} {request.url.path}."
        details = {"fix": "Check the path against GET /openapi.json."}
    elif exc.status_code == 413:
        message = str(exc.detail)
        details = {"field": "body", "rule": "size limit", "fix": "Send a smaller body."}
    else:
        message, details = str(exc.detail), {}
    return envelope(request_id_of(request), exc.status_code, code, message, details,
                    headers=getattr(exc, "headers", None))


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error (request %s)", request_id_of(request))
    return envelope(request_id_of(request), 500, "INTERNAL_ERROR",
                    "Something went wrong on our side; the request id identifies it in the logs.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.HostplaneError, _hostplane_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
