"""Middleware that makes POSTs with an Idempotency-Key replay their first result.

Same key, organization, credential, route and body → the first 2xx status and body, and no second
write. A response that carries a secret (a new API key) is stored without it: secrets are shown once.
It runs inside authentication and around the whole route, so the handler's transaction has
committed before the result is stored; the response is held back until then, so a client never sees
a result that a retry with the same key could not replay.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from tempfile import SpooledTemporaryFile
from typing import BinaryIO

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hostplane import errors
from hostplane.api.auth import PROTECTED_PREFIX
from hostplane.api.container import Container
from hostplane.api.problems import error_response
from hostplane.db.scope import Scope as TenantScope
from hostplane.idempotency import service

SPOOL_BYTES = 1024 * 1024  # a body up to this size is kept in memory, a larger one on disk
REPLAY_CHUNK = 64 * 1024
REPLAY_BODY = "idempotent_replay_body"  # request.state key: what a replay returns instead


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, container: Container) -> None:
        self.app = app
        self.container = container

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] != "POST"
                or not scope["path"].startswith(PROTECTED_PREFIX)
                # A stream is not held back to be stored (and a command is never replayed).
                or scope["path"].endswith("/stream")):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        key = request.headers.get("idempotency-key")
        if key is None:
            await self.app(scope, receive, send)
            return
        body = SpooledTemporaryFile(max_size=SPOOL_BYTES)  # an upload waits on disk
        try:
            await self._route(scope, receive, send, request, key, body)
        finally:
            body.close()

    async def _route(self, scope: Scope, receive: Receive, send: Send, request: Request,
                     key: str, body: SpooledTemporaryFile[bytes]) -> None:
        # The body is read once, for its fingerprint, and handed to the route again after.
        whole = hashlib.sha256()
        async for chunk in request.stream():  # bounded by RequestContextMiddleware, outside
            whole.update(chunk)
            body.write(chunk)
        size = body.tell()
        body.seek(0)
        where = {"key": key, "method": "POST", "path": scope["path"]}
        try:
            service.check_key(key)
            principal = scope["state"]["principal"]  # AuthenticationMiddleware ran
            tenant_id = principal.tenant_id
            # A JSON body is compared by meaning; an upload by its bytes.
            fingerprint = (service.request_fingerprint(body.read()) if size <= SPOOL_BYTES
                           else whole.hexdigest())
            body.seek(0)
            replay = await run_in_threadpool(self._reserve, tenant_id, principal.subject_id,
                                             fingerprint, where)
        except errors.HostplaneError as exc:
            refusal = error_response(scope["state"].get("request_id", ""), exc)
            await refusal(scope, receive, send)
            return
        if replay is not None:
            replayed = Response(replay.body, status_code=replay.status_code,
                                media_type="application/json",
                                headers={"Idempotent-Replayed": "true"})
            await replayed(scope, receive, send)
            return

        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        try:
            await self.app(scope, _replay_body(body, receive), hold)
        except BaseException:
            await run_in_threadpool(self._finish, tenant_id, where, None, b"")
            raise
        status = next(m["status"] for m in held if m["type"] == "http.response.start")
        content = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
        # A response that carries a secret is replayed without it (routers/api_keys.py, _once).
        content = scope["state"].get(REPLAY_BODY, content)
        await run_in_threadpool(self._finish, tenant_id, where, status, content)
        for message in held:
            await send(message)

    def _reserve(self, tenant_id: str, principal_id: str, fingerprint: str,
                 where: dict[str, str]) -> service.Replay | None:
        ttl = timedelta(seconds=self.container.settings.idempotency_ttl_seconds)
        with self.container.database.transaction() as session:
            return service.reserve(TenantScope(session, tenant_id), fingerprint=fingerprint,
                                   principal_id=principal_id,
                                   now=self.container.clock.now(), ttl=ttl, **where)

    def _finish(self, tenant_id: str, where: dict[str, str], status: int | None, body: bytes) -> None:
        """Store a 2xx result for replay; forget the reservation of anything else."""
        with self.container.database.transaction() as session:
            scope = TenantScope(session, tenant_id)
            if status is not None and 200 <= status < 300:
                service.complete(scope, status=status, body=body.decode(), **where)
            else:
                service.release(scope, **where)


def _replay_body(body: BinaryIO, receive: Receive) -> Receive:
    """A receive() that hands the already-read body to the app again, a piece at a time, then
    listens to the client again (so a disconnect is real, not invented)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            chunk = body.read(REPLAY_CHUNK)
            sent = len(chunk) < REPLAY_CHUNK
            return {"type": "http.request", "body": chunk, "more_body": not sent}
        return await receive()

    return replayed
