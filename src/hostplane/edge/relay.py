"""A pooled keep-alive connection to a port in a sandbox as an asyncio protocol, for the edge's
fast path (edge/fast.py): the request goes out as one write, the response is parsed with
httptools only to find where it ends and to read its head, and its body is passed on as it
arrives (re-framed as chunks when the sandbox did not give a length).

The rules are those of edge/upstream.py: a malformed or oversized head, a switch of protocols or a
connection that closes early fails the exchange; bytes past the end of a response (or while
idle) mean the connection is never reused.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Protocol

import httptools

from hostplane.edge.proxy import HEAD_TIMEOUT
from hostplane.edge.upstream import MAX_HEAD_BYTES, PoolKey, UpstreamError

CHUNKED = b"transfer-encoding: chunked\r\n"


class Exchange(Protocol):
    """The client's side of one exchange (edge/fast.py)."""

    def response_head(self, status: int, headers: list[tuple[bytes, bytes]],
                      framing: bytes) -> bytes: ...
    def write(self, data: bytes) -> None: ...
    def finished(self, conn: Upstream, reusable: bool) -> None: ...
    def failed(self, conn: Upstream, error: Exception, started: bool) -> None: ...


class Upstream(asyncio.Protocol):
    def __init__(self, key: PoolKey) -> None:
        self.key = key
        self.reused = False
        self.idle_since = 0.0
        self.transport: asyncio.Transport | None = None
        self.exchange: Exchange | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._timer: asyncio.TimerHandle | None = None

    # The pool's view
    @property
    def usable(self) -> bool:
        return self.exchange is None and self.transport is not None \
            and not self.transport.is_closing()

    def close(self) -> None:
        self.exchange = None
        if self._timer is not None:
            self._timer.cancel()
        if self.transport is not None:
            self.transport.close()

    def pause_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def send(self, request: bytes, exchange: Exchange) -> None:
        """Write a whole request; `exchange` hears of its response."""
        assert self.transport is not None and self.exchange is None
        self.exchange = exchange
        self._status, self._headers, self._head_bytes, self._received = 0, [], 0, 0
        self._started = self._done = self._extra = self._chunked = False
        self._close_delimited = self._keep_alive = False
        self._out: list[bytes] = []
        self._timer = asyncio.get_running_loop().call_later(HEAD_TIMEOUT, self._too_slow)
        self.transport.resume_reading()  # paused for a slow client of an earlier exchange
        self.transport.write(request)

    def end_event_stream(self) -> None:
        """The edge is stopping: a server-sent event stream being relayed ends here, after the
        last whole event chunk, as if the sandbox had ended it (its reader reconnects). Any other
        response runs on, within the grace period."""
        if self.exchange is None or not self._started or self._done or not self._chunked:
            return
        if not any(name == b"content-type" and value.lower().startswith(b"text/event-stream")
                   for name, value in self._headers):
            return
        self._flush(b"0\r\n\r\n")
        self._finish(False)

    # asyncio
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.exchange is None:  # unasked-for bytes: never read as someone's answer
            self.close()
            return
        if not self._started:
            self._received += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamError("the server switched protocols on a plain request"))
            return
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"the response is not valid HTTP/1.1 ({exc})"))
            return
        if not self._started and self._received > MAX_HEAD_BYTES:
            self._fail(UpstreamError("the response head is too large"))
            return
        self._flush()
        if self._done:
            self._finish(self._keep_alive and not self._extra)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.exchange is None:
            return
        if self._started and self._close_delimited:
            self._flush(b"0\r\n\r\n")
            self._finish(False)
        else:
            self._fail(UpstreamError("the connection closed before the response ended",
                                     retryable=self.reused and self._received == 0))

    def pause_writing(self) -> None:  # requests are small and whole: nothing to hold back
        pass

    def resume_writing(self) -> None:
        pass

    # httptools
    def on_message_begin(self) -> None:
        if self._done:
            self._extra = True

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._done:
            return
        self._head_bytes += len(name) + len(value)
        if self._head_bytes > MAX_HEAD_BYTES:
            raise UpstreamError("the response headers are too large")
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        if self._done:
            return
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # informational: the real one follows (101 raises)
            self._headers = []
            return
        names = {name for name, _ in self._headers}
        if b"content-length" in names or status in (204, 304):
            framing = b""
        else:
            framing, self._chunked = CHUNKED, True
            self._close_delimited = b"transfer-encoding" not in names
        assert self.exchange is not None
        self._out.append(self.exchange.response_head(status, self._headers, framing))
        self._started, self._keep_alive = True, self._parser.should_keep_alive()
        if self._timer is not None:
            self._timer.cancel()

    def on_body(self, body: bytes) -> None:
        if not self._done:
            self._out.append(b"%x\r\n%s\r\n" % (len(body), body) if self._chunked else body)

    def on_message_complete(self) -> None:
        if self._started and not self._done:
            self._done = True
            if self._chunked:
                self._out.append(b"0\r\n\r\n")

    # Ends
    def _flush(self, last: bytes = b"") -> None:
        if last:
            self._out.append(last)
        if self._out and self.exchange is not None:
            self.exchange.write(b"".join(self._out))
        self._out = []

    def _finish(self, reusable: bool) -> None:
        exchange, self.exchange = self.exchange, None
        if exchange is not None:
            exchange.finished(self, reusable)

    def _fail(self, error: Exception) -> None:
        if self._timer is not None:
            self._timer.cancel()
        exchange = self.exchange
        self.close()
        if exchange is not None:
            exchange.failed(self, error, self._started)

    def _too_slow(self) -> None:
        if self.exchange is not None and not self._started:
            self._fail(TimeoutError())


async def open_upstream(key: PoolKey, sock: socket.socket) -> Upstream:
    """An `Upstream` over a socket the compute driver connected."""
    _, conn = await asyncio.get_running_loop().create_connection(lambda: Upstream(key),
                                                                 sock=sock)
    return conn
