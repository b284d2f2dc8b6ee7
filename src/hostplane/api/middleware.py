"""ASGI middleware around every request: a request id, the body size limit, refusal of text no
database can store, and a JSON 500 (logged with its traceback) for anything unexpected."""

from __future__ import annotations

import errno
import logging
import re
import time
import uuid
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hostplane.api.metrics import Metrics
from hostplane.api.problems import BodyTooLarge, envelope, too_large_response
from hostplane.db.engine import database_unreachable

log = logging.getLogger("hostplane.api")

_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def _has_nul(scope: Scope) -> str | None:
    """Which part of the URL carries a NUL character (PostgreSQL cannot store one), if any."""
    if b"\x00" in unquote_to_bytes(scope.get("raw_path") or scope["path"].encode()):
        return "path"
    if b"\x00" in unquote_to_bytes(scope.get("query_string", b"")):
        return "query"
    return None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int,
                 large_bodies: dict[str, int] | None = None,
                 metrics: Metrics | None = None, prefix: str = "") -> None:
        self.app = app
        self.metrics, self.prefix = metrics, prefix
        self.max_body_bytes = max_body_bytes
        # path pattern → its own limit (image uploads, built archives)
        self.large_bodies = [(re.compile(p), n) for p, n in (large_bodies or {}).items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        offered = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _CLIENT_ID.match(offered) else "req_" + uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        raw_id = request_id.encode()
        started = False
        status = 500
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", raw_id)]
            await send(message)

        limit = next((n for p, n in self.large_bodies if p.match(scope["path"])),
                     self.max_body_bytes)
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            refusal = too_large_response(request_id, limit)
            await refusal(scope, receive, send_with_id)
            return
        part = _has_nul(scope)
        if part is not None:
            refusal = envelope(request_id, 422, "VALIDATION_FAILED",
                               f"The request {part} contains a NUL character.",
                               {"field": part, "rule": "no NUL (\\u0000) characters",
                                "fix": "Remove the NUL character."})
            await refusal(scope, receive, send_with_id)
            return

        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, counting_receive, send_with_id)
            self._observe(scope, status, began)
        except BodyTooLarge:
            if not started:
                refusal = too_large_response(request_id, limit)
                await refusal(scope, receive, send_with_id)
        except Exception as exc:
            if database_unreachable(exc):
                log.warning("database unreachable in %s %s (request %s): %s", scope["method"],
                            scope["path"], request_id, type(exc).__name__)
                if not started:
                    await _database_unavailable(request_id)(scope, receive, send_with_id)
                return
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                log.error("no space left for %s %s (request %s)", scope["method"],
                          scope["path"], request_id)
                if not started:
                    await _no_space(request_id)(scope, receive, send_with_id)
                return
            log.exception("unhandled error in %s %s (request %s)", scope["method"],
                          scope["path"], request_id)
            if not started:
                failure = envelope(request_id, 500, "INTERNAL_ERROR",
                                   "Something went wrong on our side; the request id identifies "
                                   "it in the server's logs.",
                                   extra={"retryable": True})
                await failure(scope, receive, send_with_id)

    def _observe(self, scope: Scope, status: int, began: float) -> None:
        if self.metrics is not None:
            # The route's template, never the path itself: ids would make every series unique.
            route = getattr(scope.get("route"), "path", None)
            if route is None:
                route = "unmatched"
            elif scope["path"].startswith(self.prefix) and not route.startswith(self.prefix):
                route = self.prefix + route  # an included router may report it without
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - began)


RETRY_DATABASE_SECONDS = 2


def _database_unavailable(request_id: str) -> ASGIApp:
    """503 with retry_after: nothing was done, and the same request can be sent again."""
    return envelope(request_id, 503, "DATABASE_UNAVAILABLE",
                    "The service's database can't be reached right now; nothing was changed.",
                    {"fix": f"Retry in {RETRY_DATABASE_SECONDS} seconds."},
                    extra={"retryable": True, "retry_after": RETRY_DATABASE_SECONDS,
                           "retry_after_ms": RETRY_DATABASE_SECONDS * 1000},
                    headers={"Retry-After": str(RETRY_DATABASE_SECONDS)})


def _no_space(request_id: str) -> ASGIApp:
    """507: the server's disk is full. What the request was writing went with its staging."""
    return envelope(request_id, 507, "INSUFFICIENT_STORAGE",
                    "The service has no room to store this right now; nothing was kept.",
                    {"fix": "Retry later; if it persists, tell the service's operator."},
                    extra={"retryable": True, "retry_after": 60, "retry_after_ms": 60_000},
                    headers={"Retry-After": "60"})
