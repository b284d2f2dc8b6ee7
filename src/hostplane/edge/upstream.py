"""HTTP/1.1 to a port inside a sandbox: pooled keep-alive connections, a response parser, and
framing that never lets one request's bytes be read as another's.

Connections come from the compute driver's `open_connection` (the sandbox's own network) and are
pooled per (sandbox, lifecycle, port): a sandbox that stopped and started again has a new
lifecycle, so a connection of its earlier run is never reused. Responses are parsed with
httptools (llhttp, as uvicorn uses), which refuses malformed framing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import socket
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httptools

from hostplane.edge.limits import release

READ_SIZE = 64 * 1024
MAX_IDLE_PER_PORT = 32
OPENING_PER_PORT = 4  # connects under way at once per port, for requests waiting
IDLE_SECONDS = 30.0  # an idle connection older than this is closed, not reused
MAX_HEAD_BYTES = 64 * 1024  # response status line and headers


class UpstreamError(Exception):
    """The sandbox's server broke the exchange. `retryable`: nothing of a response arrived on a
    reused connection (it had been closed while idle), so a request without a body may be sent
    again on a fresh one."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


PoolKey = tuple[str, str, int]  # sandbox id, lifecycle, port


@dataclass(eq=False)
class Connection:
    key: PoolKey
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    reused: bool = False
    idle_since: float = 0.0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()

    @property
    def usable(self) -> bool:
        """Open, and nothing unasked-for arrived: bytes past the end of the last response (a
        second response, garbage) would be read as the next visitor's answer."""
        unread = getattr(self.reader, "_buffer", b"")
        return not unread and not self.reader.at_eof() and not self.writer.is_closing()


async def open_stream(key: PoolKey, sock: socket.socket) -> Connection:
    reader, writer = await asyncio.open_connection(sock=sock, limit=READ_SIZE)
    return Connection(key, reader, writer)


class Pool:
    """Idle connections per (sandbox, lifecycle, port). `open` makes a connection of the pool's
    kind (streams here, a protocol in edge/relay.py) on a connected socket.

    A request that finds no idle connection waits for the first one to come free: one another
    request puts back, or a new one. At most OPENING_PER_PORT connects are under way per port,
    and more start while requests still wait: a connect costs the driver milliseconds of CPU (it
    looks for the sandbox's own socket), so a burst of new visitors is served by the first few
    connections instead of each waiting for its own, and the edge's loop is not starved meanwhile.
    A connect that fails fails the longest-waiting request."""

    def __init__(self, connect: Callable[[str, int], Awaitable[socket.socket]],
                 clock: Callable[[], float] = time.monotonic, *,
                 open: Callable[[PoolKey, socket.socket], Awaitable[Any]] = open_stream) -> None:
        self._connect = connect  # driver.open_connection, on the edge's connect threads
        self._clock = clock
        self._open = open
        self._idle: dict[PoolKey, list[Any]] = {}
        self._waiting: dict[PoolKey, deque[asyncio.Future[Any]]] = {}
        self._opening: dict[PoolKey, int] = {}
        self._next_sweep = 0.0

    def idle(self, key: PoolKey) -> Any | None:
        """An idle connection still fit for use, or None."""
        idle = self._idle.get(key)
        fresh_since = self._clock() - IDLE_SECONDS
        while idle:
            conn = idle.pop()
            if conn.usable and conn.idle_since >= fresh_since:
                conn.reused = True
                return conn
            conn.close()
        return None

    async def get(self, key: PoolKey) -> Any:
        conn = self.idle(key)
        if conn is not None:
            return conn
        self._forget_other_lifecycles(key)
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        waiters = self._waiting.setdefault(key, deque())
        waiters.append(waiter)
        if self._opening.get(key, 0) < OPENING_PER_PORT:
            self._start_opening(key)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.put(waiter.result())  # handed over just as its asker gave up
            raise
        finally:
            with contextlib.suppress(ValueError):
                waiters.remove(waiter)
            if not waiters and self._waiting.get(key) is waiters:
                del self._waiting[key]

    def _start_opening(self, key: PoolKey) -> None:
        self._opening[key] = self._opening.get(key, 0) + 1
        opening = asyncio.ensure_future(self._open_new(key))
        opening.add_done_callback(functools.partial(self._opened, key))

    async def _open_new(self, key: PoolKey) -> Any:
        sock = await self._connect(key[0], key[2])
        return await self._open(key, sock)

    def _opened(self, key: PoolKey, opening: asyncio.Future[Any]) -> None:
        """A connect ended: its connection serves the longest waiter (or idles), its error
        fails that waiter; another connect starts if more wait than are being connected for."""
        release(self._opening, key)  # type: ignore[arg-type]
        if opening.cancelled():  # the edge is stopping
            return
        exc = opening.exception()
        if exc is None:
            self.put(opening.result(), reused=False)
        waiters = [w for w in self._waiting.get(key, ()) if not w.done()]
        if exc is not None and waiters:
            waiters.pop(0).set_exception(exc)
        opening_now = self._opening.get(key, 0)
        if len(waiters) > opening_now and opening_now < OPENING_PER_PORT:
            self._start_opening(key)

    def put(self, conn: Any, *, reused: bool = True) -> None:
        waiters = self._waiting.get(conn.key)
        while waiters and conn.usable:
            waiter = waiters.popleft()
            if not waiter.done():
                conn.reused = reused
                waiter.set_result(conn)
                return
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now - IDLE_SECONDS)
            self._next_sweep = now + IDLE_SECONDS
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) >= MAX_IDLE_PER_PORT or not conn.usable:
            conn.close()
        else:
            conn.idle_since = now
            idle.append(conn)

    def _sweep(self, fresh_since: float) -> None:
        """Close connections idle too long (of sandboxes that stopped, or just quiet)."""
        for key in list(self._idle):
            kept = []
            for conn in self._idle[key]:
                if conn.usable and conn.idle_since >= fresh_since:
                    kept.append(conn)
                else:
                    conn.close()
            if kept:
                self._idle[key] = kept
            else:
                del self._idle[key]

    def _forget_other_lifecycles(self, key: PoolKey) -> None:
        for other in [k for k in self._idle if k[0] == key[0] and k[1] != key[1]]:
            for conn in self._idle.pop(other):
                conn.close()

    def close(self) -> None:
        """Close every idle connection (the edge is shutting down)."""
        for key in list(self._idle):
            for conn in self._idle.pop(key):
                conn.close()


@dataclass
class Response:
    """A response being read: the head first, then the body in pieces."""

    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    keep_alive: bool = False
    _head_done: bool = False
    _done: bool = False
    _chunks: list[bytes] = field(default_factory=list)
    _head_bytes: int = 0
    _parser: httptools.HttpResponseParser | None = None
    _close_delimited: bool = False
    _extra: bool = False  # a second message began after this one: never reuse the connection

    def whole_body(self) -> bytes | None:
        """The body, if all of it has already arrived with the head (most small responses):
        then it is relayed in one piece, without reading further."""
        if not self._done:
            return None
        if self._extra:
            self.keep_alive = False
        body, self._chunks = b"".join(self._chunks), []
        return body

    # httptools callbacks
    def on_message_begin(self) -> None:
        if self._done:
            self._extra = True
    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value)
        if self._head_bytes > MAX_HEAD_BYTES:
            raise UpstreamError("the response headers are too large")
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # informational: the real one follows
            self.headers = []
            return
        self.status = status
        self._head_done = True
        self.keep_alive = self._parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        if self._head_done:
            self._done = True


async def exchange(conn: Connection, head: bytes, body: AsyncIterator[bytes] | None, *,
                   chunked: bool, bodyless_response: bool,
                   head_timeout: float) -> tuple[Response, AsyncIterator[bytes]]:
    """Send a request (head bytes, then the body framed as the head says) and read the response
    head. Returns the response and an iterator over its body; once that is exhausted,
    `response.keep_alive` says whether the connection may be reused."""
    response = Response()
    parser = httptools.HttpResponseParser(response)
    response._parser = parser
    conn.writer.write(head)
    sender = asyncio.ensure_future(_send_body(conn, body, chunked)) if body is not None else None
    received = 0
    try:
        async with asyncio.timeout(head_timeout):
            while not response._head_done:
                data = await conn.reader.read(READ_SIZE)
                if not data:
                    raise UpstreamError("the connection closed before a response",
                                        retryable=conn.reused and received == 0 and body is None)
                received += len(data)
                _feed(parser, data)
                # Counted on the bytes fed, not on what the parser reports: a header value is
                # only reported once it ends, after all of it was buffered.
                if not response._head_done and received > MAX_HEAD_BYTES:
                    raise UpstreamError("the response head is too large")
    except BaseException:
        if sender is not None:
            sender.cancel()
        raise
    if sender is None:
        await conn.writer.drain()
    framing = {k for k, _ in response.headers} & {b"content-length", b"transfer-encoding"}
    response._close_delimited = not framing and not bodyless_response \
        and response.status not in (204, 304)
    if bodyless_response:  # HEAD: whatever the headers say, no body follows
        response._done, response.keep_alive = True, False
        response._chunks.clear()
    return response, _body(conn, response, parser, sender)


def _feed(parser: httptools.HttpResponseParser, data: bytes) -> None:
    try:
        parser.feed_data(data)
    except httptools.HttpParserUpgrade:
        raise UpstreamError("the server switched protocols on a plain request") from None
    except httptools.HttpParserError as exc:
        raise UpstreamError(f"the response is not valid HTTP/1.1 ({exc})") from None


async def _body(conn: Connection, response: Response, parser: httptools.HttpResponseParser,
                sender: asyncio.Future[None] | None) -> AsyncIterator[bytes]:
    try:
        while True:
            if response._chunks:
                chunks, response._chunks = response._chunks, []
                yield b"".join(chunks)
            if response._done:
                break
            data = await conn.reader.read(READ_SIZE)
            if not data:
                if response._close_delimited:
                    response.keep_alive = False
                    break
                raise UpstreamError("the connection closed in the middle of the response")
            _feed(parser, data)
        if response._extra:
            response.keep_alive = False
        if sender is not None:
            if not sender.done():  # answered before reading the whole request: can't reuse
                sender.cancel()
                response.keep_alive = False
            elif sender.exception() is not None:
                response.keep_alive = False
    except BaseException:
        response.keep_alive = False
        if sender is not None:
            sender.cancel()
        raise


async def _send_body(conn: Connection, body: AsyncIterator[bytes], chunked: bool) -> None:
    writer = conn.writer
    async for piece in body:
        if not piece:
            continue
        if chunked:
            writer.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
        else:
            writer.write(piece)
        await writer.drain()  # a slow sandbox slows the upload, never fills our memory
    if chunked:
        writer.write(b"0\r\n\r\n")
    await writer.drain()

