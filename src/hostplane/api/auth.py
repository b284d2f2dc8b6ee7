"""Authentication for everything under /api/v1, as middleware: deny by default.

Every request under /api/v1 must carry a valid credential; a public route would have to live
outside that prefix (as /healthz does). The principal is put on the request state for the route's
dependencies and for the idempotency middleware. A cached key costs no I/O at all.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hostplane import errors
from hostplane.api.container import Container
from hostplane.api.problems import error_response
from hostplane.tenancy.principal import Principal
from hostplane.tokens.auth import looks_like_token

PROTECTED_PREFIX = "/api/v1/"
CORS_HEADERS = "authorization, content-type, idempotency-key, x-miosa-tenant, x-request-id"
EXPOSED = "x-request-id, retry-after, idempotent-replayed"


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
        headers = {k: v.decode("latin-1") for k, v in scope["headers"]
                   if k in (b"authorization", b"x-miosa-tenant", b"origin", b"sec-fetch-mode",
                            b"sec-fetch-site", b"access-control-request-method")}
        origin = headers.get(b"origin")
        if scope["method"] == "OPTIONS" and origin and b"access-control-request-method" in headers:
            await _preflight(origin)(scope, receive, send)
            return
        try:
            principal = await self._authenticate(headers)
        except errors.HostplaneError as exc:
            # Readable by the page that sent it (an expired token must be seen to be renewed);
            # a refusal carries nothing but the reason.
            refusal = error_response(scope["state"].get("request_id", ""), exc)
            await refusal(scope, receive, _with_cors(send, origin))
            return
        scope["state"]["principal"] = principal
        allowed = origin if origin and principal.kind == "browser_token" else None
        await self.app(scope, receive, _with_cors(send, allowed))

    async def _authenticate(self, headers: dict[bytes, str]) -> Principal:
        return await authenticate(self.container, headers)


async def authenticate(container: Container, headers: dict[bytes, str]) -> Principal:
    """The caller a request's headers stand for (raises Unauthenticated or Forbidden): also
    asked again during long streams, so a key or token revoked meanwhile ends them."""
    secret = bearer_secret(headers.get(b"authorization", ""))
    if secret is None:
        raise errors.Unauthenticated(
            "This route needs a credential: send Authorization: Bearer <API key>.",
            code="UNAUTHENTICATED",
            fix="Create a key with `hostplane keys create --tenant <org>` and send it as a "
            "Bearer token.",
        )
    tenant = headers.get(b"x-miosa-tenant", "").strip() or None
    origin = headers.get(b"origin")
    if looks_like_token(secret):
        principal = await run_in_threadpool(container.token_authenticator.authenticate,
                                            secret, tenant)
        # A browser token is already a bearer limited by scope and lifetime, so any page may
        # use it; an organization that lists origins keeps its tokens to those pages.
        if origin is not None and principal.origins and origin not in principal.origins:
            raise errors.Forbidden(
                f"Browser tokens of this organization are not accepted from {origin!r}.",
                code="ORIGIN_NOT_ALLOWED", field="Origin",
                rule="this organization lists the origins its browser tokens work from",
                fix="Add the origin with PUT /api/v1/tenant/browser-origins (with an API "
                    "key, on your backend), or clear the list to allow any origin.")
        return principal
    if origin is not None or _from_a_page(headers):
        raise errors.Unauthenticated(
            "API keys must never be used from a browser: anyone who opens the page can "
            "read the key.",
            code="API_KEY_IN_BROWSER",
            fix="Keep the msk_ key on your backend and have it mint a short-lived browser "
                "token (POST /api/v1/browser-tokens) for the page to use instead.")
    authenticator = container.authenticator
    principal = authenticator.from_cache(secret, tenant)
    if principal is None:
        principal = await run_in_threadpool(authenticator.lookup, secret, tenant)
    return principal


def _from_a_page(headers: dict[bytes, str]) -> bool:
    """Fetch metadata a browser adds to requests a page makes (any fetch mode but a top-level
    navigation); server-side HTTP clients send none of it."""
    mode = headers.get(b"sec-fetch-mode")
    return (mode is not None and mode != "navigate") or (
        mode is None and b"sec-fetch-site" in headers)


def _preflight(origin: str) -> ASGIApp:
    """A CORS preflight carries no credential, so it can't know the organization: it is answered
    for any origin, and the request that follows is refused unless its browser token's
    organization allows that origin."""
    from starlette.responses import Response

    return Response(status_code=204, headers={
        "access-control-allow-origin": origin, "vary": "Origin",
        "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE",
        "access-control-allow-headers": CORS_HEADERS, "access-control-max-age": "600"})


def _with_cors(send: Send, origin: str | None) -> Send:
    if origin is None:
        return send

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message.setdefault("headers", [])
            message["headers"] = [*message["headers"],
                                  (b"access-control-allow-origin", origin.encode("latin-1")),
                                  (b"access-control-expose-headers", EXPOSED.encode()),
                                  (b"vary", b"Origin")]
        await send(message)

    return sending
