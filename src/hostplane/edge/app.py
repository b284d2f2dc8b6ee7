"""The edge router as an ASGI application: Host → target → relay, file or page.

Served by uvicorn (llhttp parses requests and refuses smuggling: conflicting Content-Length and
Transfer-Encoding, obs-fold, bad chunk sizes). Every request is routed on its own, so two hosts on
one keep-alive connection reach their own targets.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import ipaddress
import logging
import time
from typing import Any

import jwt
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hostplane import errors
from hostplane.api.container import Container
from hostplane.api.routers.tls import allowed
from hostplane.edge import pages, proxy, static, websocket
from hostplane.edge.access import (
    SAFE_METHODS,
    PreviewAccess,
    local_location,
    same_origin,
    token_param,
    without_token,
)
from hostplane.edge.desktop import Desktops
from hostplane.edge.forwarding import preview_cookie, response_headers, upstream_headers
from hostplane.edge.limits import ClientLimits, OrgLimits
from hostplane.edge.offload import Offload
from hostplane.edge.proxy import RequestTimeout
from hostplane.edge.relay import open_upstream
from hostplane.edge.router import Router
from hostplane.edge.routes import (
    DeploymentTarget,
    NoTarget,
    SandboxTarget,
    parse_host,
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
        self.offload = Offload()
        self.router = Router(container.database, container.platform, cache=container.routes,
                             offload=self.offload)
        assert container.driver is not None
        self.driver = container.driver
        self.pool = Pool(self._connect)
        self.relays = Pool(self._connect, open=open_upstream)  # the fast path's (edge/fast.py)
        self.files = static.HotFiles(container.releases, self.router.manifests)  # and these
        self.scheme, self.public_port = settings.public_scheme, settings.public_port
        self.access = PreviewAccess(container.token_authenticator, self.offload,
                                    secure=settings.public_scheme == "https")
        self.limits = OrgLimits(max_open=settings.edge_max_open_per_org,
                                per_second=settings.edge_requests_per_second_per_org)
        self.clients = ClientLimits(max_open=settings.edge_max_open_per_client)
        self.trusted_proxies = frozenset(settings.edge_trusted_proxy_list)
        self._touched: dict[str, float] = {}
        self.traffic = container.metrics.edge
        self.desktops = Desktops(self)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        answered = [0, 0]  # status, bytes: the edge's traffic figures (api/metrics.py)

        async def counted(message: dict[str, Any]) -> None:
            kind = message["type"]
            if kind.endswith("response.start"):
                answered[0] = message["status"]
            elif kind.endswith("response.body"):
                answered[1] += len(message.get("body", b""))
            elif kind == "websocket.accept":
                answered[0] = 101
            elif kind == "websocket.send":
                answered[1] += len(message.get("bytes") or message.get("text") or b"")
            await send(message)

        reply = _Reply(scope, counted, self.router)
        client = self.client_address((scope.get("client") or ("", 0))[0], scope["headers"])
        if not self.clients.admit(client):
            await reply.page("TOO_MANY_CONNECTIONS")
            return
        try:
            if await self._metrics(scope, counted):
                return
            await self._serve(scope, receive, reply, client)
        except RequestTimeout:
            await reply.page("REQUEST_TIMEOUT")
        except Exception:
            log.exception("edge request failed")
            await reply.page("INTERNAL")  # unless the response had begun
        finally:
            self.clients.done(client)
            if answered[0]:
                self.traffic.add(reply.tenant_id, answered[0], answered[1])

    async def _metrics(self, scope: dict[str, Any], send: Any) -> bool:
        """GET /metrics asked of the edge by address (never a tenant's hostname), from the
        networks in HOSTPLANE_METRICS_ALLOW: this process's figures (api/metrics.py)."""
        if scope["type"] != "http" or scope["path"] != "/metrics":
            return False
        hosts = [v for k, v in scope["headers"] if k == b"host"]
        name = hosts[0].decode("latin-1").rsplit(":", 1)[0].strip("[]") if hosts else ""
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        peer = (scope.get("client") or ("", 0))[0]
        if not allowed(peer, self.container.settings.metrics_allow):
            return False
        body = await asyncio.to_thread(generate_latest, self.container.metrics.registry)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", CONTENT_TYPE_LATEST.encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        return True

    async def _serve(self, scope: dict[str, Any], receive: Any, reply: _Reply,
                     client: str) -> None:
        hosts = [v for k, v in scope["headers"] if k == b"host"]
        parsed = parse_host(hosts[0].decode("latin-1")) if len(hosts) == 1 else None
        if parsed is None:
            await reply.page("BAD_REQUEST")
            return
        host, port = parsed
        # The edge's own query parameter never reaches an app (nor the access log, which reads
        # the same scope).
        offered = token_param(scope.get("query_string", b""))
        if offered is not None:
            scope["query_string"] = without_token(scope["query_string"])
        hit, target = self.router.known(host)  # most requests: no await
        if not hit:
            target = await self.router.target(host)
        reply.tenant_id = getattr(target, "tenant_id", None)
        if isinstance(target, NoTarget):
            await reply.page(_NO_TARGET[target.reason])
        elif isinstance(target, SandboxTarget):
            await self._sandbox(scope, receive, reply, host, port, target, offered, client)
        elif isinstance(target, DeploymentTarget):
            await self._within_share(target.tenant_id, reply, self._deployment, scope, reply,
                                     target)
        else:
            await self._within_share(target.tenant_id, reply, self.desktops.serve, scope,
                                     receive, reply, host, target, offered)

    async def _within_share(self, tenant_id: str, reply: _Reply, work: Any, *args: Any) -> None:
        """`work(*args)` within the organization's share of this edge."""
        refusal = self.limits.admit(tenant_id)
        if refusal is not None:
            await reply.page(refusal)
            return
        try:
            await work(*args)
        finally:
            self.limits.done(tenant_id)

    # Sandboxes

    async def _sandbox(self, scope: dict[str, Any], receive: Any, reply: _Reply, host: str,
                       port: str, target: SandboxTarget, offered: str | None,
                       client: str) -> None:
        if target.state != "running":
            await reply.page(_STATES.get(target.state, "SANDBOX_UNAVAILABLE"))
            return
        token = None
        if target.visibility == "private":
            token = await self._private(scope, reply, host, target, offered)
            if token is None:
                return
        await self._within_share(target.tenant_id, reply, self._relay, scope, receive, reply,
                                 host, port, target, token, client)

    async def _relay(self, scope: dict[str, Any], receive: Any, reply: _Reply, host: str,
                     port: str, target: SandboxTarget, token: str | None,
                     client: str) -> None:
        headers = self.visit(target, scope["headers"], host, port, client)
        key = (target.sandbox_id, target.lifecycle, target.port)
        try:
            if scope["type"] == "websocket":
                await self._websocket(scope, receive, reply, key, headers, target, token)
            else:
                await proxy.relay(scope, receive, reply.send, self.pool, key, headers,
                                  lambda sent: response_headers(sent, host),
                                  self.container.stopping)
        except errors.HostplaneError as exc:
            code = exc.code if exc.code in ("PORT_NOT_LISTENING", "TOO_MANY_CONNECTIONS") \
                else "SANDBOX_UNAVAILABLE"
            await reply.page(code)
        except UpstreamError as exc:
            log.info("upstream error for a preview: %s", exc)
            await reply.page("BAD_GATEWAY")
        except TimeoutError:
            await reply.page("GATEWAY_TIMEOUT")

    async def _websocket(self, scope: dict[str, Any], receive: Any, reply: _Reply,
                         key: tuple[str, str, int], headers: list[tuple[bytes, bytes]],
                         target: SandboxTarget, token: str | None) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        sock = await self._connect(key[0], key[2])
        try:
            upstream = await websocket.open_upstream(sock, scope, headers)
        except websocket.Refused:
            sock.close()
            await reply.page("BAD_GATEWAY")
            return
        async def revoked(token: str) -> None:
            while await self.access.check(token, target) is not None:
                await asyncio.sleep(REVOCATION_POLL)

        reply.started = True
        await websocket.relay(upstream, receive, reply.send,
                              None if token is None else functools.partial(revoked, token))

    async def _private(self, scope: dict[str, Any], reply: _Reply, host: str,
                       target: SandboxTarget, offered: str | None) -> str | None:
        """The token that opens this private preview, or None once a refusal or the
        token-for-cookie redirect has been answered."""
        if offered is not None:
            if await self.access.check(offered, target) is None:
                await reply.page("PREVIEW_PRIVATE")
                return None
            expires = jwt.decode(offered, options={"verify_signature": False})["exp"]
            location = local_location(scope.get("raw_path", b"/").decode("latin-1"),
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
        if cookie is None or await self.access.check(cookie, target) is None:
            await reply.page("PREVIEW_PRIVATE")
            return None
        # An ambient cookie: other sites must not drive unsafe requests or sockets with it.
        unsafe = scope["type"] == "websocket" or scope["method"] not in SAFE_METHODS
        origin = next((v for k, v in scope["headers"] if k == b"origin"), None)
        if unsafe and not same_origin(origin, self._public_origin(host)):
            await reply.page("PREVIEW_FORBIDDEN")
            return None
        return cookie

    # Deployments

    async def _deployment(self, scope: dict[str, Any], reply: _Reply,
                          target: DeploymentTarget) -> None:
        if target.version_id is None:
            await reply.page("NOT_PUBLISHED")
            return
        if scope["type"] == "websocket" or scope["method"] not in ("GET", "HEAD"):
            await reply.page("METHOD_NOT_ALLOWED", [(b"allow", b"GET, HEAD")])
            return
        manifest = await self.router.manifest(target.version_id)
        found = static.find(self.container.releases, manifest, scope["path"],
                            spa_fallback=target.spa_fallback)
        if found is None:
            await reply.page("NOT_FOUND")
            return
        await reply.file(found, self.offload)

    # Helpers

    async def _connect(self, sandbox_id: str, port: int) -> Any:
        return await self.offload.connect(self.driver.open_connection, sandbox_id, port)

    def _public_origin(self, host: str) -> str:
        return f"{self.scheme}://{host}" + (f":{self.public_port}" if self.public_port else "")

    def client_address(self, peer: str, headers: list[tuple[bytes, bytes]]) -> str:
        """Whose request this is: the peer, or what a trusted proxy in front says it is."""
        if peer in self.trusted_proxies:
            forwarded = next((v for k, v in headers if k == b"x-forwarded-for"), None)
            if forwarded:
                return forwarded.decode("latin-1").split(",")[-1].strip() or peer
        return peer

    def visit(self, target: SandboxTarget, headers: list[tuple[bytes, bytes]], host: str,
              port: str, client: str) -> list[tuple[bytes, bytes]]:
        """Mark the sandbox active and return the headers it receives for this request."""
        self.touch(target.sandbox_id)
        public_host = (f"{host}:{port}" if port else host).encode()
        return upstream_headers(headers, host=public_host, port=target.port,
                                mask_host=target.mask_host, client_ip=client,
                                scheme=self.scheme, is_ours=self.signed_here)

    def signed_here(self, token: str) -> bool:
        """A browser token signed by this platform (stripped before a sandbox sees it)."""
        return self.container.key_ring.signed_here(token)

    def touch(self, sandbox_id: str) -> None:
        """Count a request as activity of the sandbox (idle_timeout_sec), at most every
        TOUCH_EVERY seconds."""
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
                # Everything made so far (modules, the app, the API's beside it in `serve`)
                # lives as long as the process: out of the cyclic collector's full passes,
                # which otherwise walk it all and stall the loop (about 160 ms, serve's p99).
                gc.freeze()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.pool.close()
                self.relays.close()
                self.offload.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


class _Reply:
    """Answers of the edge itself (pages, files, redirects) for HTTP and WebSocket scopes."""

    def __init__(self, scope: dict[str, Any], send: Any, router: Router) -> None:
        self.scope, self.send, self.router, self.started = scope, send, router, False
        self.tenant_id: str | None = None  # whose branding pages wear, once routed

    async def page(self, code: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        if self.started:
            return
        accept = next((v for k, v in self.scope["headers"] if k == b"accept"), b"")
        look = await self.router.look(self.tenant_id)  # read only when a page is sent
        status, headers, body = pages.render(code, look, extra_headers=extra,
                                             html_page=pages.wants_html(accept.decode("latin-1")))
        await self._answer(status, headers, body)

    async def redirect(self, location: str, cookie: bytes) -> None:
        await self._answer(303, [(b"location", location.encode("latin-1")),
                                 (b"set-cookie", cookie), (b"cache-control", b"no-store"),
                                 (b"referrer-policy", b"no-referrer"),
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

    async def file(self, found: static.File, offload: Offload) -> None:
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
                path = await static.gzipped(found, offload)
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

