"""The edge's fast path: the hot request relayed as bytes, everything else through the ASGI app.

uvicorn makes one of these protocols per connection. It reads each request head (edge/heads.py:
llhttp, configured as uvicorn's own parser) and relays the hot case itself: a whole HTTP/1.1
keep-alive request to a public preview of a running sandbox whose route is cached (or just looked
up), within the limits of the organization and of the client. The rewritten head goes to a pooled `relay.Upstream` in
one write and the response comes back as bytes: no ASGI scope, no task per request.

At the first request that is anything else (a private preview, a page, a deployment's file, a
WebSocket, a chunked upload, a refusal of the limits, a head the parser refuses) the connection
is handed to uvicorn's own protocol with the bytes read so far, for the rest of its life, and the
ASGI app (edge/app.py) answers as it always does: the rules live there once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hostplane import errors
from hostplane.api.shutdown import DrainingHttp
from hostplane.edge import heads, pages
from hostplane.edge.app import Edge
from hostplane.edge.forwarding import forwarding_lines
from hostplane.edge.heads import MAX_BODY, MAX_HEAD, HotRequest
from hostplane.edge.relay import Upstream
from hostplane.edge.pages import date_line
from hostplane.edge.routes import DeploymentTarget, SandboxTarget, Target
from hostplane.edge.upstream import UpstreamError
from hostplane.edge.wire import response_head

log = logging.getLogger("hostplane.edge")
_CODES = ("PORT_NOT_LISTENING", "TOO_MANY_CONNECTIONS")  # the driver's refusals shown as such


class FastPath(asyncio.Protocol):
    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        if not config.loaded:
            config.load()
        self.config, self.server_state, self.app_state = config, server_state, app_state
        self.loop = _loop or asyncio.get_event_loop()
        self.edge = _edge_of(config.loaded_app)
        self.traffic = self.edge.traffic
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.peer = ""
        self._buffer = b""
        self._is_ours = self.edge.signed_here
        self._request: HotRequest | None = None  # being answered: nothing else is read meanwhile
        # What the last request's target, host and client made (the same on most requests of
        # a connection): the pool key and the forwarding lines.
        self._for: tuple[Any, bytes, str] | None = None
        self._key: Any = None
        self._forwarding = b""
        self._closing = self._write_paused = False
        self._last_data = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None

    # asyncio
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server_state.connections.add(self)
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if isinstance(peer, tuple) else ""
        self._last_data = self.loop.time()
        self._idle_timer = self.loop.call_later(self.config.timeout_keep_alive, self._idle)

    def data_received(self, data: bytes) -> None:
        self._last_data = self.loop.time()
        self._buffer = self._buffer + data if self._buffer else data
        if self._request is None:
            self._next()
        elif len(self._buffer) > MAX_HEAD + MAX_BODY:
            self.transport.pause_reading()  # pipelined requests wait their turn

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        request, self._request = self._request, None
        if request is not None:
            if request.conn is not None:
                self._took(request, request.conn)
                request.conn.close()  # a response cut short never serves anyone else
            self._count(request)
            self._release(request)

    def pause_writing(self) -> None:
        """The client reads slower than the sandbox writes: stop reading the sandbox."""
        self._write_paused = True
        conn = self._request.conn if self._request is not None else None
        if conn is not None:
            conn.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        conn = self._request.conn if self._request is not None else None
        if conn is not None:
            conn.resume_reading()

    def shutdown(self) -> None:
        """The server is stopping: close now if idle, end a relayed event stream now (cleanly,
        so its reader reconnects elsewhere), else close after the response."""
        self.edge.container.stopping.set()
        self._closing = True
        request = self._request
        if request is None:
            self.transport.close()
        elif request.conn is not None:
            request.conn.end_event_stream()

    # Requests
    def _next(self) -> None:
        """Answer the next request in the buffer if it is whole and hot; hand over if it is
        not hot; wait if it is not whole."""
        while not (self._closing or self.transport.is_closing()):
            buffer = self._buffer
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    self._hand_over()
                return
            request = heads.read(buffer, end + 4, self._is_ours)
            if request is None:
                self._hand_over()
                return
            self._request = request
            hit, target = self.edge.router.known(request.host)
            if not hit:
                self.transport.pause_reading()
                looked_up = asyncio.ensure_future(self.edge.router.target(request.host))
                looked_up.add_done_callback(lambda done: self._looked_up(request, done))
                return
            if type(target) is DeploymentTarget and self._file(request, target):
                continue  # answered at once: the next one, if it came along
            self._route(request, target)
            return

    def _looked_up(self, request: HotRequest, done: asyncio.Future[Target]) -> None:
        failed = done.cancelled() or done.exception() is not None
        if self._request is not request:
            return  # the client went away meanwhile
        if not self.transport.is_closing():
            self.transport.resume_reading()
        if failed:
            self._hand_over()  # the ASGI app looks again, and answers whatever happens
            return
        target = done.result()
        if type(target) is DeploymentTarget and self._file(request, target):
            self._next()
            return
        self._route(request, target)

    def _file(self, request: HotRequest, target: DeploymentTarget) -> bool:
        """Answer a GET of a deployment's file at once, if the edge holds it ready
        (static.HotFiles); False to leave it to `_route` (which hands it over)."""
        if target.version_id is None or not request.line.startswith(b"GET ") \
                or request.body or request.file_header(b"range") is not None:
            return False
        target_path = request.line[4:-9]
        path = target_path.partition(b"?")[0]
        edge = self.edge
        hot = edge.files.find(target.version_id, path, target.spa_fallback)
        if hot is None:
            return False
        client = self._client(request)
        if not edge.clients.admit(client):
            return False  # the ASGI app answers with the refusal's page
        refused = edge.limits.admit(target.tenant_id)
        edge.clients.done(client)
        if refused is not None:
            return False
        edge.limits.done(target.tenant_id)
        answer = edge.files.answer(
            hot, request.file_header(b"if-none-match"), request.file_header(b"accept-encoding"),
            date_line())
        self.transport.write(answer)
        self.traffic.add(target.tenant_id, 304 if answer[9:12] == b"304" else 200, len(answer))
        self._buffer = self._buffer[request.size:]
        self._request = None
        self.server_state.total_requests += 1
        return True

    def _client(self, request: HotRequest) -> str:
        """Whose request this is (Edge.client_address)."""
        peer = self.peer
        if request.xff is None or peer not in self.edge.trusted_proxies:
            return peer
        return self.edge.client_address(peer, [(b"x-forwarded-for", request.xff)])

    def _route(self, request: HotRequest, target: Target | None) -> None:
        edge = self.edge
        if not (isinstance(target, SandboxTarget) and target.state == "running"
                and target.visibility == "public"):
            self._hand_over()
            return
        client = self._client(request)
        if not edge.clients.admit(client):
            self._hand_over()  # the ASGI app answers with the refusal's page
            return
        if edge.limits.admit(target.tenant_id) is not None:
            edge.clients.done(client)
            self._hand_over()
            return
        request.target, request.client = target, client
        edge.touch(target.sandbox_id)
        made = self._for
        if made is None or made[0] is not target or made[1] != request.raw_host \
                or made[2] != client:
            self._for = (target, request.raw_host, client)
            self._key = (target.sandbox_id, target.lifecycle, target.port)
            public = f"{request.host}:{request.port}" if request.port else request.host
            self._forwarding = forwarding_lines(public.encode(), target.port, target.mask_host,
                                                client, edge.scheme)
        length = request.length
        request.sent = b"".join((request.line, b"\r\n", request.kept, self._forwarding,
                                 b"content-length: %s\r\n" % length if length else b"",
                                 b"\r\n", request.body))
        self._buffer = self._buffer[request.size:]
        self._send(request)

    def _send(self, request: HotRequest) -> None:
        key = self._key
        conn = self.edge.relays.idle(key)
        if conn is not None:
            self._exchange(request, conn)
            return
        connecting = asyncio.ensure_future(self.edge.relays.get(key))
        connecting.add_done_callback(lambda done: self._connected(request, done))

    def _connected(self, request: HotRequest, done: asyncio.Future[Upstream]) -> None:
        if self._request is not request:  # the client went away meanwhile
            if not done.cancelled() and done.exception() is None:
                self.edge.relays.put(done.result())
            return
        if done.cancelled():
            self.transport.close()
            return
        exc = done.exception()
        if exc is None:
            self._exchange(request, done.result())
        elif isinstance(exc, errors.HostplaneError):
            self._page(request, exc.code if exc.code in _CODES else "SANDBOX_UNAVAILABLE")
        else:
            log.error("edge request failed", exc_info=exc)
            self._page(request, "INTERNAL")

    def _exchange(self, request: HotRequest, conn: Upstream) -> None:
        request.conn = conn
        conn.send(request.sent, self, request.host)
        if self._write_paused:
            conn.pause_reading()

    # relay.Exchange: how the sandbox's answer ended
    def finished(self, conn: Upstream, reusable: bool) -> None:
        if self._request is not None:
            self._took(self._request, conn)
        if reusable:
            self.edge.relays.put(conn)
        else:
            conn.close()
        self._done()

    def failed(self, conn: Upstream, error: Exception, started: bool) -> None:
        request = self._request
        if request is None:
            return
        request.conn = None
        self._took(request, conn)
        if started:  # the head is out: the response ends without its end
            self.transport.close()
        elif isinstance(error, UpstreamError) and error.retryable and request.attempt == 0 \
                and not request.body:
            request.attempt = 1  # the pooled connection had been closed while idle
            self._send(request)
        elif isinstance(error, TimeoutError):
            self._page(request, "GATEWAY_TIMEOUT")
        else:
            log.info("upstream error for a preview: %s", error)
            self._page(request, "BAD_GATEWAY")

    # Ends
    def _page(self, request: HotRequest, code: str) -> None:
        """Answer with the edge's page for `code` (as the ASGI app's `_Reply.page`)."""
        accept = request.accept or b""
        assert request.target is not None
        look = asyncio.ensure_future(self.edge.router.look(request.target.tenant_id))

        def answer(done: asyncio.Future[pages.Look]) -> None:
            look = pages.NEUTRAL if done.cancelled() or done.exception() else done.result()
            if self._request is not request:
                return
            status, headers, body = pages.render(
                code, look, html_page=pages.wants_html(accept.decode("latin-1")))
            answer = response_head(status, headers) + body
            self.transport.write(answer)
            request.status, request.written = status, len(answer)
            self._done()

        look.add_done_callback(answer)

    def _done(self) -> None:
        request, self._request = self._request, None
        if request is not None:
            self._count(request)
            self._release(request)
        self.server_state.total_requests += 1
        if self._closing:
            self.transport.close()
        elif self._buffer:
            self.transport.resume_reading()
            self._next()

    @staticmethod
    def _took(request: HotRequest, conn: Upstream) -> None:
        """What the sandbox's answer was and how much of it went out, for the traffic figures."""
        if conn.status:
            request.status, request.written = conn.status, conn.sent
            conn.status = 0

    def _count(self, request: HotRequest) -> None:
        if request.status and request.target is not None:
            self.traffic.add(request.target.tenant_id, request.status, request.written)
            request.status = 0

    def _release(self, request: HotRequest) -> None:
        if request.target is not None:
            self.edge.limits.done(request.target.tenant_id)
            self.edge.clients.done(request.client)  # type: ignore[arg-type]
            request.target = None

    def _idle(self) -> None:
        """Close a connection that sent nothing for the keep-alive timeout while no answer was
        being written (uvicorn's keep-alive timeout)."""
        quiet = self.loop.time() - self._last_data
        timeout = self.config.timeout_keep_alive
        if self._request is None and quiet >= timeout:
            self.transport.close()
        else:
            self._idle_timer = self.loop.call_later(max(timeout - quiet, 1.0), self._idle)

    def _hand_over(self) -> None:
        """The rest of the connection goes to uvicorn's protocol, with the bytes read so far
        (from the start of the request being judged: nothing of it was sent anywhere)."""
        self._request = None
        self.server_state.connections.discard(self)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self.transport.resume_reading()
        protocol = DrainingHttp(config=self.config, server_state=self.server_state,
                                app_state=self.app_state, _loop=self.loop)
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        data, self._buffer = self._buffer, b""
        if data:
            protocol.data_received(data)


def _edge_of(app: Any) -> Edge:
    """The Edge under uvicorn's wrappers (if any)."""
    while not isinstance(app, Edge):
        app = app.app
    return app
