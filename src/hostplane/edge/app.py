"""The edge router as an ASGI application: Host → target → relay, file or page.

Served by uvicorn (llhttp parses requests and refuses smuggling: conflicting Content-Length and
Transfer-Encoding, obs-fold, bad chunk sizes). Every request is routed on its own, so two hosts on
one keep-alive connection reach their own targets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import jwt

from hostplane import errors
from hostplane.api.container import Container
from hostplane.edge import pages, proxy, static, websocket
from hostplane.edge.access import (
    SAFE_METHODS,
    PreviewAccess,
    same_origin,
    token_param,
    without_token,
)
from hostplane.edge.forwarding import preview_cookie, response_headers, upstream_headers
from hostplane.edge.limits import OrgLimits
from hostplane.edge.router import Router
from hostplane.edge.routes import (
    DeploymentTarget,
    DesktopTarget,
    NoTarget,
    SandboxTarget,
    canonical_host,
)
from hostplane.edge.upstream import Pool, UpstreamError

log = logging.getLogger("hostplane.edge")
TOUCH_EVERY = 5.0  # seconds between activity marks of one sandbox
REVOCATION_POLL = 2.0  # seconds between checks of a private WebSocket's token
_STATES = {"stopped": "SANDBOX_STOPPED", "paused": "SANDBOX_PAUSED",
           "creating": "SANDBOX_STARTING", "starting": "SANDBOX_STARTING",
           "destroyed": "RESOURCE_REMOVED"}
_NO_TARGET = {"unknown": "HOST_NOT_FOUND", "removed": "RESOURCE_REMOVED"}


class Edge:
    def __init__(self, container: Container) -> None:
        settings = container.settings
        self.container = container
        self.router = Router(container.database, container.platform, cache=container.routes)
        assert container.driver is not None
        self.driver = container.driver
        self.pool = Pool(self.driver.open_connection)
        self.scheme = settings.public_scheme
        self.access = PreviewAccess(container.token_authenticator,
                                    secure=settings.public_scheme == "https")
        self.limits = OrgLimits(max_open=settings.edge_max_open_per_org,
                                per_second=settings.edge_requests_per_second_per_org)
        self.trusted_proxies = frozenset(settings.edge_trusted_proxy_list)
        self._touched: dict[str, float] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        reply = _Reply(scope, send)
        try:
            await self._serve(scope, receive, reply)
        except Exception:
            log.exception("edge request failed")
            await reply.page("INTERNAL")  # unless the response had begun

    async def _serve(self, scope: dict[str, Any], receive: Any, reply: _Reply) -> None:
        hosts = [v for k, v in scope["headers"] if k == b"host"]
        host = canonical_host(hosts[0].decode("latin-1")) if len(hosts) == 1 else None
        if host is None:
            await reply.page("BAD_REQUEST" if len(hosts) != 1 else "HOST_NOT_FOUND")
            return
        target = await self.router.target(host)
        if isinstance(target, NoTarget):
            await reply.page(_NO_TARGET[target.reason], await self.router.look(target.tenant_id))
            return
        refusal = self.limits.admit(target.tenant_id)
        if refusal is not None:
            await reply.page(refusal, await self.router.look(target.tenant_id))
            return
        try:
            if isinstance(target, SandboxTarget):
                await self._sandbox(scope, receive, reply, hosts[0], host, target)
            elif isinstance(target, DeploymentTarget):
                await self._deployment(scope, reply, target)
            else:
                assert isinstance(target, DesktopTarget)
                await reply.page("DESKTOP_NOT_AVAILABLE", await self.router.look(target.tenant_id))
        finally:
            self.limits.done(target.tenant_id)

    # Sandboxes

    async def _sandbox(self, scope: dict[str, Any], receive: Any, reply: _Reply, raw_host: bytes,
                       host: str, target: SandboxTarget) -> None:
        look = await self.router.look(target.tenant_id)
        if target.state != "running":
            await reply.page(_STATES.get(target.state, "SANDBOX_UNAVAILABLE"), look)
            return
        token = None
        if target.visibility == "private":
            token = await self._private(scope, reply, host, target, look)
            if token is None:
                return
        self._touch(target.sandbox_id)
        headers = upstream_headers(
            scope["headers"], host=raw_host, port=target.port, mask_host=target.mask_host,
            client_ip=self._client_ip(scope), scheme=self.scheme, is_ours=self._signed_here)
        key = (target.sandbox_id, target.lifecycle, target.port)
        try:
            if scope["type"] == "websocket":
                await self._websocket(scope, receive, reply, key, headers, target, token)
            else:
                await proxy.relay(scope, receive, reply.send, self.pool, key, headers,
                                  response_headers)
        except errors.HostplaneError as exc:
            code = "PORT_NOT_LISTENING" if exc.code == "PORT_NOT_LISTENING" \
                else "SANDBOX_UNAVAILABLE"
            await reply.page(code, look)
        except UpstreamError as exc:
            log.info("upstream error for a preview: %s", exc)
            await reply.page("BAD_GATEWAY", look)
        except TimeoutError:
            await reply.page("GATEWAY_TIMEOUT", look)

    async def _websocket(self, scope: dict[str, Any], receive: Any, reply: _Reply,
                         key: tuple[str, str, int], headers: list[tuple[bytes, bytes]],
                         target: SandboxTarget, token: str | None) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        sock = await asyncio.to_thread(self.driver.open_connection, key[0], key[2])
        try:
            upstream = await websocket.open_upstream(sock, scope, headers)
        except websocket.Refused:
            sock.close()
            await reply.page("BAD_GATEWAY", await self.router.look(target.tenant_id))
            return
        revoked = None
        if token is not None:
            async def revoked() -> None:
                while await self.access.check(token, target) is not None:
                    await asyncio.sleep(REVOCATION_POLL)
        reply.started = True
        await websocket.relay(upstream, receive, reply.send, revoked)

    async def _private(self, scope: dict[str, Any], reply: _Reply, host: str,
                       target: SandboxTarget, look: pages.Look) -> str | None:
        """The token that opens this private preview, or None once a refusal or the
        token-for-cookie redirect has been answered."""
        offered = token_param(scope.get("query_string", b""))
        if offered is not None:
            if await self.access.check(offered, target) is None:
                await reply.page("PREVIEW_PRIVATE", look)
                return None
            expires = jwt.decode(offered, options={"verify_signature": False})["exp"]
            location = without_token(scope.get("raw_path", b"/").decode("latin-1"),
                                     scope.get("query_string", b""))
            await reply.redirect(location, self.access.cookie(
                offered, max(int(expires - self.container.clock.now().timestamp()), 1)))
            return None
        auth = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        scheme, _, bearer = auth.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and bearer.strip():
            if await self.access.check(bearer.strip(), target) is not None:
                return bearer.strip()
        cookie = preview_cookie([v for k, v in scope["headers"] if k == b"cookie"])
        if cookie is None:
            await reply.page("PREVIEW_PRIVATE", look)
            return None
        if await self.access.check(cookie, target) is None:
            await reply.page("PREVIEW_PRIVATE", look)
            return None
        # An ambient cookie: other sites must not drive unsafe requests or sockets with it.
        unsafe = scope["type"] == "websocket" or scope["method"] not in SAFE_METHODS
        origin = next((v for k, v in scope["headers"] if k == b"origin"), None)
        if unsafe and not same_origin(origin, host):
            await reply.page("PREVIEW_FORBIDDEN", look)
            return None
        return cookie

    # Deployments

    async def _deployment(self, scope: dict[str, Any], reply: _Reply,
                          target: DeploymentTarget) -> None:
        if target.version_id is None:
            await reply.page("NOT_PUBLISHED", await self.router.look(target.tenant_id))
            return
        if scope["type"] == "websocket" or scope["method"] not in ("GET", "HEAD"):
            await reply.page("METHOD_NOT_ALLOWED", await self.router.look(target.tenant_id),
                             [(b"allow", b"GET, HEAD")])
            return
        manifest = await self.router.manifest(target.version_id)
        found = static.find(self.container.releases, manifest, scope["path"],
                            spa_fallback=target.spa_fallback)
        if found is None:
            await reply.page("NOT_FOUND", await self.router.look(target.tenant_id))
            return
        await reply.file(found)

    # Helpers

    def _client_ip(self, scope: dict[str, Any]) -> str:
        peer = (scope.get("client") or ("", 0))[0]
        if peer in self.trusted_proxies:
            forwarded = next((v for k, v in scope["headers"] if k == b"x-forwarded-for"), None)
            if forwarded:
                return forwarded.decode("latin-1").split(",")[-1].strip() or peer
        return peer

    def _signed_here(self, token: str) -> bool:
        return self.container.key_ring.signed_here(token)

    def _touch(self, sandbox_id: str) -> None:
        now = time.monotonic()
        if now - self._touched.get(sandbox_id, 0.0) >= TOUCH_EVERY:
            self._touched[sandbox_id] = now
            if len(self._touched) > 100_000:
                self._touched.clear()
            with contextlib.suppress(Exception):
                self.driver.touch(sandbox_id)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.container.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


class _Reply:
    """Answers of the edge itself (pages, files, redirects) for HTTP and WebSocket scopes."""

    def __init__(self, scope: dict[str, Any], send: Any) -> None:
        self.scope, self.send, self.started = scope, send, False
        accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
        self.html = pages.wants_html(accept.decode("latin-1"))

    async def page(self, code: str, look: pages.Look = pages.NEUTRAL,
                   extra: list[tuple[bytes, bytes]] | None = None) -> None:
        if self.started:
            return
        status, headers, body = pages.render(code, look, html_page=self.html,
                                             extra_headers=extra)
        await self._answer(status, headers, body)

    async def redirect(self, location: str, cookie: bytes) -> None:
        await self._answer(303, [(b"location", location.encode("latin-1")),
                                 (b"set-cookie", cookie), (b"cache-control", b"no-store"),
                                 (b"content-length", b"0"), pages.date_header()], b"")

    async def _answer(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.started = True
        if self.scope["type"] == "websocket":
            if "websocket.http.response" in self.scope.get("extensions", {}):
                await self.send({"type": "websocket.http.response.start", "status": status,
                                 "headers": headers})
                await self.send({"type": "websocket.http.response.body", "body": body})
            else:
                await self.send({"type": "websocket.close", "code": 1008})
            return
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body",
                         "body": b"" if self.scope["method"] == "HEAD" else body})

    async def file(self, found: static.File) -> None:
        request = dict(self.scope["headers"])
        headers = [(b"content-type", found.content_type.encode()),
                   (b"etag", found.etag.encode()), (b"accept-ranges", b"bytes"),
                   (b"cache-control", b"public, max-age=0, must-revalidate"),
                   (b"x-content-type-options", b"nosniff"), pages.date_header()]
        gzip_tag = found.etag[:-1].encode() + b'-gz"'
        sent_tags = {tag.strip() for tag in request.get(b"if-none-match", b"").split(b",")}
        if found.status == 200 and sent_tags & {found.etag.encode(), gzip_tag}:
            if gzip_tag in sent_tags:
                headers[1] = (b"etag", gzip_tag)
            await self._answer(304, headers, b"")
            return
        path, size, status, start = found.path, found.size, found.status, 0
        wanted = request.get(b"range")
        span = static.byte_range(wanted.decode("latin-1"), size) if wanted and status == 200 \
            else None
        if span is False:
            await self._answer(416, [*headers, (b"content-range", b"bytes */%d" % found.size),
                                     (b"content-length", b"0")], b"")
            return
        if span:
            start, end = span  # type: ignore[misc]
            status, size = 206, end - start + 1
            headers.append((b"content-range", b"bytes %d-%d/%d" % (start, end, found.size)))
        elif static.compressible(found):
            headers.append((b"vary", b"accept-encoding"))
            if b"gzip" in request.get(b"accept-encoding", b""):
                path = await static.gzipped(found)
                size = path.stat().st_size
                headers += [(b"content-encoding", b"gzip")]
                headers[1] = (b"etag", gzip_tag)
        headers.append((b"content-length", str(size).encode()))
        self.started = True
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        if self.scope["method"] != "HEAD":
            async for block in static.chunks(path, start, size):
                await self.send({"type": "http.response.body", "body": block, "more_body": True})
        await self.send({"type": "http.response.body", "body": b""})


def create_edge(container: Container) -> Edge:
    """The edge's ASGI application over `container`'s database, driver and stores."""
    return Edge(container)


def from_environment() -> Edge:
    """The edge of a process of its own (`hostplane edge`), configured from HOSTPLANE_*."""
    from hostplane.settings import get_settings

    return Edge(Container.build(get_settings()))

