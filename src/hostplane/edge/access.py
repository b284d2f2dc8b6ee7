"""Private previews: who may open one. A browser token holding `preview:read` for the sandbox
(and the port, if the token names ports) opens it, sent as `Authorization: Bearer`, or once as
the `preview_token` query parameter, which the edge trades for a host-only cookie. Every request
checks the token again (signature, then one query), so a revocation counts from the next one."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from hostplane import errors
from hostplane.edge.forwarding import PREVIEW_COOKIE_PLAIN, PREVIEW_COOKIE_SECURE, TOKEN_PARAM
from hostplane.edge.offload import Offload
from hostplane.edge.routes import SandboxTarget
from hostplane.tenancy.principal import Principal
from hostplane.tokens.auth import TokenAuthenticator, looks_like_token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class PreviewAccess:
    def __init__(self, authenticator: TokenAuthenticator, offload: Offload, *,
                 secure: bool) -> None:
        self.authenticator, self.offload = authenticator, offload
        self.secure = secure
        self.cookie_name = PREVIEW_COOKIE_SECURE if secure else PREVIEW_COOKIE_PLAIN

    async def check(self, token: str, target: SandboxTarget) -> Principal | None:
        """The token's principal if it may open this preview now; None otherwise."""
        if not looks_like_token(token):
            return None
        try:
            principal = await self.offload.run(self.offload.lookups,
                                               self.authenticator.authenticate, token, None)
        except errors.HostplaneError:
            return None
        return principal if allows(principal, target) else None

    def cookie(self, token: str, max_age: int) -> bytes:
        """The cookie that carries the token on this host only. Cross-site iframes keep it (in
        their own partition) when the public scheme is https."""
        attributes = [f"{self.cookie_name}={token}", "Path=/", "HttpOnly", f"Max-Age={max_age}"]
        attributes += ["Secure", "SameSite=None", "Partitioned"] if self.secure \
            else ["SameSite=Lax"]
        return "; ".join(attributes).encode()


def allows(principal: Principal, target: SandboxTarget) -> bool:
    if principal.tenant_id != target.tenant_id or not principal.can("preview:read"):
        return False
    limit = principal.limit
    if limit is None:
        return True
    return (limit.workspace_id == target.workspace_id
            and limit.project_id in (None, target.project_id)
            and (limit.sandbox_ids is None or target.sandbox_id in limit.sandbox_ids)
            and (limit.ports is None or target.port in limit.ports))


def same_origin(origin: bytes | None, public_origin: str) -> bool:
    """Whether a cookie-carrying unsafe request or WebSocket comes from the preview itself:
    its Origin is the preview's public origin (scheme, host and port)."""
    if not origin:
        return False
    parts = urlsplit(origin.decode("latin-1").lower())
    try:
        port = parts.port
    except ValueError:
        return False
    default = {"http": 80, "https": 443}.get(parts.scheme)
    expected = urlsplit(public_origin)
    return (parts.scheme, parts.hostname, port or default) == (
        expected.scheme, expected.hostname, expected.port or default)


def without_token(query: bytes) -> bytes:
    """The query without the edge's own parameter (what the app sees, what logs show)."""
    kept = [(k, v) for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            if k != TOKEN_PARAM]
    return urlencode(kept).encode("latin-1")


def local_location(path: str, query: bytes) -> str:
    """Where the token-for-cookie redirect goes: this host's own path (never `//elsewhere` or
    `/\\elsewhere`, which browsers read as another site)."""
    path = "/" + path.lstrip("/\\")
    return path + ("?" + query.decode("latin-1") if query else "")


def token_param(query: bytes) -> str | None:
    if TOKEN_PARAM.encode() not in query:
        return None
    for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if key == TOKEN_PARAM:
            return value
    return None
