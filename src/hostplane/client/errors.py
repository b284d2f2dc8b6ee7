"""The client's errors mirror the server's: one class per HTTP status family, and a subclass for
each error code a caller is likely to branch on. Every error carries the server's code, message,
field, rule, fix and request id."""

from __future__ import annotations

from typing import Any


class HostplaneError(Exception):
    """Anything that went wrong talking to hostplane."""


class ConnectionFailed(HostplaneError):
    """The server could not be reached (or did not answer in time)."""


class ApiError(HostplaneError):
    status = 0

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any],
                 request_id: str | None, retry_after: float | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.details, self.request_id, self.retry_after = details, request_id, retry_after

    @property
    def field(self) -> str | None:
        return self.details.get("field")

    @property
    def rule(self) -> str | None:
        return self.details.get("rule")

    @property
    def fix(self) -> str | None:
        return self.details.get("fix")


class BadRequest(ApiError):
    status = 400


class Unauthenticated(ApiError):
    status = 401


class PermissionDenied(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class PayloadTooLarge(ApiError):
    status = 413


class ValidationFailed(ApiError):
    status = 422


class RateLimited(ApiError):
    status = 429


class ServerError(ApiError):
    status = 500


# Codes with their own class (each a subclass of its status's class).
class DomainClaimed(Conflict):
    """The name is held by another organization."""


class DomainInUse(Conflict):
    """The name is already attached to another target of this organization."""


class SlugTaken(Conflict):
    pass


class WorkspaceNameExists(Conflict):
    pass


class SetupRequired(Conflict):
    """The organization must be named (its permanent slug fixed) before it creates anything."""


class IdempotencyKeyInUse(Conflict):
    pass


class TokenExpired(Unauthenticated):
    pass


class TokenRevoked(Unauthenticated):
    pass


class ApiKeyInBrowser(Unauthenticated):
    pass


_BY_STATUS: dict[int, type[ApiError]] = {c.status: c for c in (
    BadRequest, Unauthenticated, PermissionDenied, NotFound, Conflict, PayloadTooLarge,
    ValidationFailed, RateLimited)}
_BY_CODE: dict[str, type[ApiError]] = {
    "DOMAIN_CLAIMED": DomainClaimed, "DOMAIN_IN_USE": DomainInUse, "SLUG_TAKEN": SlugTaken,
    "WORKSPACE_NAME_EXISTS": WorkspaceNameExists, "SETUP_REQUIRED": SetupRequired,
    "IDEMPOTENCY_KEY_IN_USE": IdempotencyKeyInUse, "TOKEN_EXPIRED": TokenExpired,
    "TOKEN_REVOKED": TokenRevoked, "API_KEY_IN_BROWSER": ApiKeyInBrowser}


def from_response(status: int, body: Any, request_id: str | None,
                  retry_after: float | None) -> ApiError:
    """The error a non-2xx answer stands for (the server's envelope, or whatever came)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or "ERROR")
        message = str(error.get("message") or "")
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
        request_id = body.get("request_id") or request_id
        if retry_after is None and isinstance(error.get("retry_after"), int | float):
            retry_after = float(error["retry_after"])
    else:
        code, message, details = f"HTTP_{status}", str(body)[:500], {}
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status) or (
        ServerError if status >= 500 else ApiError)
    error_obj = cls(status, code, message, details, request_id, retry_after)
    error_obj.status = status
    return error_obj
