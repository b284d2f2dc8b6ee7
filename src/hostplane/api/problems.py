"""The one place errors become the JSON envelope {"error": {code, message, details}, "request_id"}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from hostplane import errors


class ErrorBody(BaseModel):
    code: str = Field(description="UPPER_SNAKE error code, stable across versions.")
    message: str = Field(description="What went wrong and what to do, for people.")
    details: dict[str, Any] = Field(description="field, rule and fix where they apply.")
    retryable: bool


class ErrorEnvelope(BaseModel):
    """Every error the API returns."""

    error: ErrorBody
    request_id: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": description}
    for status, description in {
        401: "No credential, or an unknown, revoked or expired one.",
        403: "The credential lacks the permission this route needs.",
        404: "Not found, or not in the caller's organization.",
        409: "Conflicts with existing state (SETUP_REQUIRED, *_EXISTS, SLUG_TAKEN, …).",
        413: "The request body is over the size limit.",
        422: "Invalid input: error.details names the field, the rule and the fix.",
        429: "Too many requests: retry after error.retry_after seconds.",
        500: "An unexpected error; the request id identifies it in the logs.",
    }.items()
}


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


class BodyTooLarge(StarletteHTTPException):
    """Raised from inside receive(); an HTTPException so FastAPI's body parsing passes it on."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")
        self.limit = limit


def too_large_response(request_id: str, limit: int) -> JSONResponse:
    return envelope(request_id, 413, "TOO_LARGE", f"The request body is larger than {limit} bytes.",
                    {"field": "body", "rule": f"at most {limit} bytes", "fix": "Send a smaller body."})


def error_response(request_id: str, exc: errors.HostplaneError) -> JSONResponse:
    """The envelope of a domain error, from a route or from middleware alike."""
    headers = None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers = {"Retry-After": str(max(1, int(retry_after + 0.999)))}
    return envelope(request_id, exc.status, exc.code, exc.message, exc.details, exc.extra, headers)


def _hostplane_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.HostplaneError)
    return error_response(request_id_of(request), exc)


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
    elif isinstance(exc, BodyTooLarge):
        return too_large_response(request_id_of(request), exc.limit)
    else:
        message, details = str(exc.detail), {}
    return envelope(request_id_of(request), exc.status_code, code, message, details,
                    headers=getattr(exc, "headers", None))


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.HostplaneError, _hostplane_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Unexpected exceptions become a 500 envelope in RequestContextMiddleware, inside the request
    # id and with the traceback logged.
