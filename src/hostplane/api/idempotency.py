"""The route class that makes POSTs with an Idempotency-Key replay their first result."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from hostplane.api.deps import authenticate_request, container_of
from hostplane.db.scope import Scope
from hostplane.idempotency import service

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class IdempotentRoute(APIRoute):
    """POST + Idempotency-Key: same key, organization, route and body → the first 2xx response."""

    def get_route_handler(self) -> Handler:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            key = request.headers.get("idempotency-key")
            if request.method != "POST" or key is None:
                return await original(request)
            service.check_key(key)
            fingerprint = service.request_fingerprint(await request.body())
            where = {"key": key, "method": request.method, "path": request.url.path}
            replay = await run_in_threadpool(_reserve, request, fingerprint, where)
            if replay is not None:
                return Response(
                    replay.body,
                    status_code=replay.status_code,
                    media_type="application/json",
                    headers={"Idempotent-Replayed": "true"},
                )
            try:
                response = await original(request)
            except BaseException:
                await run_in_threadpool(_finish, request, where, None)
                raise
            await run_in_threadpool(_finish, request, where, response)
            return response

        return handler


def _reserve(request: Request, fingerprint: str, where: dict[str, str]) -> service.Replay | None:
    container = container_of(request)
    with container.database.transaction() as session:
        principal = authenticate_request(request, session)
        return service.reserve(
            Scope(session, principal.tenant_id),
            fingerprint=fingerprint,
            now=container.clock.now(),
            ttl=timedelta(seconds=container.settings.idempotency_ttl_seconds),
            **where,
        )


def _finish(request: Request, where: dict[str, str], response: Response | None) -> None:
    """Store a 2xx result for replay; forget the reservation of anything else."""
    container = container_of(request)
    principal = request.state.principal
    with container.database.transaction() as session:
        scope = Scope(session, principal.tenant_id)
        if response is not None and 200 <= response.status_code < 300:
            body = bytes(response.body).decode()
            service.complete(scope, status=response.status_code, body=body, **where)
        else:
            service.release(scope, **where)
