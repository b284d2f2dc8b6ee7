"""Authentication for everything under /api/v1, as middleware: deny by default.

Every request under /api/v1 must carry a valid credential; a public route would have to live
outside that prefix (as /healthz does). The principal is put on the request state for the route's
dependencies and for the idempotency middleware. A cached key costs no I/O at all.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from hostplane import errors
from hostplane.api.container import Container
from hostplane.api.problems import error_response
from hostplane.tenancy.principal import Principal

PROTECTED_PREFIX = "/api/v1/"


def bearer_secret(authorization: str) -> str | None:
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    return credential if scheme.lower() == "bearer" and credential else None


class AuthenticationMiddleware:
    def __init__(self, app: ASGIApp, *, container: Container) -> None:
        self.app = app
        self.container = container

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED_PREFIX):
            await self.app(scope, receive, send)
            return
        try:
            principal = await self._authenticate(scope)
        except errors.HostplaneError as exc:
            refusal = error_response(scope["state"].get("request_id", ""), exc)
            await refusal(scope, receive, send)
            return
        scope["state"]["principal"] = principal
        await self.app(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> Principal:
        headers = {k: v for k, v in scope["headers"] if k in (b"authorization", b"x-miosa-tenant")}
        secret = bearer_secret(headers.get(b"authorization", b"").decode("latin-1"))
        if secret is None:
            raise errors.Unauthenticated(
                "This route needs a credential: send Authorization: Bearer <API key>.",
                code="UNAUTHENTICATED",
                fix="Create a key with `hostplane keys create --tenant <org>` and send it as a "
                "Bearer token.",
            )
        tenant = headers.get(b"x-miosa-tenant", b"").decode("latin-1").strip() or None
        authenticator = self.container.authenticator
        principal = authenticator.from_cache(secret, tenant)
        if principal is None:
            principal = await run_in_threadpool(authenticator.lookup, secret, tenant)
        return principal
