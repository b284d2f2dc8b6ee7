"""Audit middleware: every change made through /api/v1 (a write that succeeded) is recorded with
who made it, what it was, and the request id, before the response's last byte is sent. Only ids
are kept, never bodies, so no secret reaches the log. Idempotent replays change nothing and are
not recorded (this runs inside the idempotency middleware)."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hostplane.api.container import Container
from hostplane.audit import service

log = logging.getLogger("hostplane.audit")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_CAPTURE = 64 * 1024  # enough of a create's response to find its id


class AuditMiddleware:
    def __init__(self, app: ASGIApp, *, container: Container, prefix: str) -> None:
        self.app, self.container, self.prefix = app, container, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method", "")
        changes = method in WRITES or (method == "GET" and scope["path"].endswith("/verify"))
        if scope["type"] != "http" or not changes or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        status = 0
        captured = bytearray()
        # A stream is recorded as it starts: a client that leaves half-way still ran the command.
        streaming = scope["path"].endswith("/stream")

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if streaming and status < 400:
                    await run_in_threadpool(self._record, scope, method, status, b"")
            elif message["type"] == "http.response.body" and status < 400 and not streaming:
                if method == "POST" and len(captured) < MAX_CAPTURE:
                    captured.extend(message.get("body", b"")[:MAX_CAPTURE])
                if not message.get("more_body", False):
                    await run_in_threadpool(self._record, scope, method, status, bytes(captured))
            await send(message)

        await self.app(scope, receive, sending)

    def _record(self, scope: Scope, method: str, status: int, body: bytes) -> None:
        principal = scope.get("state", {}).get("principal")
        route = getattr(scope.get("route"), "path", None)
        if principal is None or route is None:
            return
        if not route.startswith(self.prefix):  # routers included with a prefix report it or not
            route = self.prefix + route.lstrip("/")
        if method == "GET" and not route.endswith("/verify"):
            return  # a GET whose path merely ends in /verify (a file so named)
        change = service.describe(method, route, self.prefix, scope.get("path_params", {}),
                                  body if method == "POST" else None)
        if change is None:
            return
        try:
            with self.container.database.transaction() as session:
                service.record(session, principal, change, method, route, status,
                               scope["state"].get("request_id", ""), self.container.clock.now())
        except Exception:  # the change has happened; losing its record must be loud
            log.exception("could not record %s on %s in the audit log", change.action, route)
