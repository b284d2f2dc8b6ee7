"""The domain error tree. Services raise these; one API handler turns them into the JSON envelope.

    HostplaneError                 base: code, status, message, details
    ├── Invalid              422   VALIDATION_FAILED (or a more exact code), names field, rule and fix
    ├── Unauthenticated      401   UNAUTHENTICATED: no credential, an unknown or revoked one
    ├── Forbidden            403   FORBIDDEN: the caller can see the object but may not do this
    ├── NotFound             404   NOT_FOUND: absent, or outside the caller's organization
    ├── Conflict             409   CONFLICT: the request collides with existing state
    ├── TooLarge             413   TOO_LARGE: a body or upload over its limit
    ├── RateLimited          429   RATE_LIMITED: slow down, retry_after says how long
    └── Unavailable          503   UNAVAILABLE: something hostplane needs is not there now; retry

Every message says what was wrong and what to do about it. Codes are UPPER_SNAKE and stable: the
official clients pick exception classes by them.
"""

from __future__ import annotations

from typing import Any


class HostplaneError(Exception):
    """Base of every error a service may raise on purpose."""

    status = 500
    code = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        rule: str | None = None,
        fix: str | None = None,
        details: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details: dict[str, Any] = dict(details or {})
        for key, value in (("field", field), ("rule", rule), ("fix", fix)):
            if value is not None:
                self.details[key] = value
        # Extra keys sit beside code/message in the error object (e.g. error.existing).
        self.extra: dict[str, Any] = dict(extra or {})


class Invalid(HostplaneError):
    status = 422
    code = "VALIDATION_FAILED"


class Unauthenticated(HostplaneError):
    status = 401
    code = "UNAUTHENTICATED"


class Forbidden(HostplaneError):
    status = 403
    code = "FORBIDDEN"


class NotFound(HostplaneError):
    status = 404
    code = "NOT_FOUND"


class Conflict(HostplaneError):
    status = 409
    code = "CONFLICT"


class TooLarge(HostplaneError):
    status = 413
    code = "TOO_LARGE"


class RateLimited(HostplaneError):
    status = 429
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.extra.setdefault("retryable", True)
        self.extra.setdefault("retry_after", retry_after)
        self.extra.setdefault("retry_after_ms", int(retry_after * 1000))


class Unavailable(HostplaneError):
    status = 503
    code = "UNAVAILABLE"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        if retry_after is not None:
            self.extra.setdefault("retryable", True)
            self.extra.setdefault("retry_after", retry_after)
            self.extra.setdefault("retry_after_ms", int(retry_after * 1000))


def setup_required() -> Conflict:
    """The refusal every create returns while the organization has no permanent name."""
    return Conflict(
        "Organization setup is required before creating resources: set the organization name "
        "with PUT /api/v1/tenants/{tenant_id} {\"name\": \"...\"}; it fixes the permanent slug.",
        code="SETUP_REQUIRED",
        fix="PUT /api/v1/tenants/{tenant_id} with your organization name",
    )


def plural(noun: str) -> str:
    """A resource word's plural for messages: "sandbox" → "sandboxes", "key" → "keys"."""
    return noun + ("es" if noun.endswith(("s", "x", "sh", "ch")) else "s")
