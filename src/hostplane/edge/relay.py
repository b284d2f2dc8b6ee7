"""A pooled keep-alive connection to a port in a sandbox as an asyncio protocol, for the edge's
fast path (edge/fast.py): the request goes out as one write and the response comes back as bytes,
written to the client's transport as it arrives.

Most responses are plain: an HTTP/1.1 head of a final status (2xx to 5xx) whose lines are of a
strict subset of what llhttp accepts (`token ":" visible-ASCII-or-tab`, CRLF-ended; checked by one
regular expression over the whole head), with exactly one Content-Length of digits (or a 204 or
304, which have no body) and no Transfer-Encoding. Their head is filtered line by line as
edge/forwarding.py says (`response_headers`: no hop-by-hop fields, no Server, X-Powered-By or
Via, no foreign Set-Cookie; a head with none of those passes as it came), given uvicorn's
status line, and their body is counted, not parsed.
Every other response (chunked, close-delimited, informational, a head outside the subset, a
Connection header naming fields) is read with httptools as before: llhttp judges it, and a body
without a length is re-framed as chunks.

The rules are those of edge/upstream.py: a malformed or oversized head, a switch of protocols, or
a connection that closes early fails the exchange; bytes past the end of a response (or while
idle) mean the connection is never reused.
"""

from __future__ import annotations

import asyncio
import re
import socket
from typing import Protocol

import httptools

from hostplane.edge.forwarding import HOP_BY_HOP, own_cookie, response_headers
from hostplane.edge.proxy import HEAD_TIMEOUT
from hostplane.edge.upstream import MAX_HEAD_BYTES, PoolKey, UpstreamError
from hostplane.edge.wire import STATUS_LINES, response_head

CHUNKED = b"transfer-encoding: chunked\r\n"
_TCHAR = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
_PLAIN = re.compile(rb"HTTP/1\.1 [2-5][0-9][0-9] [\t -~]*\r\n(?:" + _TCHAR +
                    rb"+:[\t -~]*\r\n)*\r\n")
# Response header names the edge acts on: a head without any but one Content-Length passes on
# as it came (after the status line), without being taken apart.
_SPECIAL = re.compile(rb"\r\n(?:" + b"|".join(
    re.escape(name) for name in sorted(HOP_BY_HOP | {b"server", b"x-powered-by", b"via",
                                                      b"set-cookie", b"content-length"})) +
    rb"):", re.IGNORECASE)
_LENGTH_LINE = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]+)[ \t]*\r\n", re.IGNORECASE)
_DROP, _LENGTH, _CONNECTION, _COOKIE, _GENERAL = range(5)
_ACTION: dict[bytes, int] = {name: _DROP for name in HOP_BY_HOP}
_ACTION |= {b"server": _DROP, b"x-powered-by": _DROP, b"via": _DROP,
            b"content-length": _LENGTH, b"connection": _CONNECTION, b"set-cookie": _COOKIE,
            b"transfer-encoding": _GENERAL}


class Exchange(Protocol):
    """The client's side of one exchange (edge/fast.py)."""

    transport: asyncio.Transport

    def finished(self, conn: Upstream, reusable: bool) -> None: ...
    def failed(self, conn: Upstream, error: Exception, started: bool) -> None: ...


class Upstream(asyncio.Protocol):
    def __init__(self, key: PoolKey) -> None:
        self.key = key
        self.reused = False
        self.idle_since = 0.0
        self.transport: asyncio.Transport | None = None
        self.exchange: Exchange | None = None
        self._client: asyncio.Transport | None = None
        self._host = ""
        self._left = 0  # body bytes still to come of a plain response
        self._pending = b""  # a head not yet whole
        self._received = 0
        self.status = self.sent = 0  # of the current answer: its status, bytes passed on
        self._started = self._keep = self._paused = False
        self._parser: httptools.HttpResponseParser | None = None  # for a response not plain
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # The pool's view
    @property
    def usable(self) -> bool:
        return self.exchange is None and self.transport is not None \
            and not self.transport.is_closing()

    def close(self) -> None:
        self.exchange, self._left = None, 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None:
            self.transport.close()

    def pause_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._paused = False
            self.transport.resume_reading()

    def send(self, request: bytes, exchange: Exchange, host: str) -> None:
        """Write a whole request; its response goes to `exchange`'s transport, and `exchange`
        hears how it ended. `host` is the public host (whose cookies the app may set)."""
        assert self.transport is not None and self.exchange is None
        self.exchange, self._client, self._host = exchange, exchange.transport, host
        self._left, self._received, self._started, self._parser = 0, 0, False, None
        self.status = self.sent = 0
        loop = self._loop
        self._deadline = loop.time() + HEAD_TIMEOUT
        if self._timer is None:  # one timer per connection, moved on when it fires
            self._timer = loop.call_at(self._deadline, self._check_deadline)
        if self._paused:  # for a slow client of an earlier exchange
            self.resume_reading()
        self.transport.write(request)

    def end_event_stream(self) -> None:
        """The edge is stopping: a server-sent event stream being relayed ends here, after the
        last whole event chunk, as if the sandbox had ended it (its reader reconnects). Any other
        response runs on, within the grace period."""
        if self.exchange is None or self._parser is None or not self._started or self._done \
                or not self._chunked:  # a plain response (its length known) runs to its end
            return
        if not any(name == b"content-type" and value.lower().startswith(b"text/event-stream")
                   for name, value in self._headers):
            return
        self._flush(b"0\r\n\r\n")
        self._finish(False)

    # asyncio
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._loop = asyncio.get_running_loop()

    def data_received(self, data: bytes) -> None:
        left = self._left
        if left:  # the body of a plain response: counted, passed on as it came
            if len(data) < left:
                self._left = left - len(data)
                self._client.write(data)  # type: ignore[union-attr]
            else:
                self._left = 0
                self._client.write(data if len(data) == left else data[:left])  # type: ignore[union-attr]
                self._finish(self._keep and len(data) == left)
            return
        if self.exchange is None:  # unasked-for bytes: never read as someone's answer
            self.close()
            return
        if self._parser is not None:
            self._feed(data)
            return
        self._received += len(data)
        if self._pending:
            data = self._pending + data
        end = data.find(b"\r\n\r\n")
        if end < 0:
            if len(data) > MAX_HEAD_BYTES:
                self._fail(UpstreamError("the response head is too large"))
            else:
                self._pending = data
            return
        self._pending = b""
        if end > MAX_HEAD_BYTES:
            self._fail(UpstreamError("the response head is too large"))
            return
        head = self._plain_head(data, end)
        if head is None:  # not plain: llhttp reads it from its first byte
            self._parser = httptools.HttpResponseParser(self)
            self._status, self._headers, self._head_bytes = 0, [], 0
            self._done = self._extra = self._chunked = self._close_delimited = False
            self._out: list[bytes] = []
            self._feed(data)
            return
        self._started = True
        left = self._left
        self.sent = len(head) + left
        body = len(data) - end - 4
        if body < left:
            self._left = left - body
            self._client.write(head + data[end + 4:])  # type: ignore[union-attr]
            return
        self._left = 0
        self._client.write(head + data[end + 4:end + 4 + left])  # type: ignore[union-attr]
        self._finish(self._keep and body == left)

    def _plain_head(self, data: bytes, end: int) -> bytes | None:
        """The head for the client if the response is plain (setting the body's length and
        whether the connection may be reused), else None."""
        if _PLAIN.fullmatch(data, 0, end + 4) is None:
            return None
        status = self.status = int(data[9:12])
        line = STATUS_LINES.get(status) or b"HTTP/1.1 %d \r\n" % status
        first = data.find(b"\r\n")
        special = _SPECIAL.findall(data, first, end + 2)
        if len(special) == 1 and status != 204 and status != 304:  # one Content-Length only
            length = _LENGTH_LINE.search(data, first, end + 4)
            if length is None:
                return None
            self._left, self._keep = int(length[1]), True
            return line + data[first + 2:end + 4]
        lines = data[:end].split(b"\r\n")
        kept = [line]
        length = None
        keep = True
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.lower()
            action = _ACTION.get(name)
            if action is None:
                kept.append(b"%s: %s\r\n" % (name, value.strip(b" \t")))
            elif action == _LENGTH:
                value = value.strip(b" \t")
                if length is not None or not value.isdigit():
                    return None
                length = value
                kept.append(b"content-length: %s\r\n" % value)
            elif action == _CONNECTION:
                for option in value.lower().split(b","):
                    option = option.strip(b" \t")
                    if option == b"close":
                        keep = False
                    elif option != b"keep-alive":
                        return None  # it names fields to drop: the general reading's
            elif action == _COOKIE:
                value = value.strip(b" \t")
                if own_cookie(value, self._host):
                    kept.append(b"set-cookie: %s\r\n" % value)
            elif action == _GENERAL:
                return None
        if status == 204 or status == 304:
            self._left = 0
        elif length is None:
            return None
        else:
            self._left = int(length)
        self._keep = keep
        kept.append(b"\r\n")
        return b"".join(kept)

    def _feed(self, data: bytes) -> None:
        """The general reading: llhttp parses, the callbacks below collect."""
        if not self._started:
            self._received += len(data)
        try:
            self._parser.feed_data(data)  # type: ignore[union-attr]
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
            self._finish(self._keep and not self._extra)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.exchange is None:
            return
        if self._parser is not None and self._started and self._close_delimited:
            self._flush(b"0\r\n\r\n")
            self._finish(False)
        else:
            self._fail(UpstreamError("the connection closed before the response ended",
                                     retryable=self.reused and self._received == 0))

    def pause_writing(self) -> None:  # requests are small and whole: nothing to hold back
        pass

    def resume_writing(self) -> None:
        pass

    # httptools (the general reading)
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
        status = self._parser.get_status_code()  # type: ignore[union-attr]
        if 100 <= status < 200:  # informational: the real one follows (101 raises)
            self._headers = []
            return
        self.status, self.sent = status, 0
        names = {name for name, _ in self._headers}
        if b"content-length" in names or status in (204, 304):
            framing = b""
        else:
            framing, self._chunked = CHUNKED, True
            self._close_delimited = b"transfer-encoding" not in names
        self._out.append(response_head(status, response_headers(self._headers, self._host),
                                       framing))
        self._started = True
        self._keep = self._parser.should_keep_alive()  # type: ignore[union-attr]

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
            out = b"".join(self._out)
            self.sent += len(out)
            self._client.write(out)  # type: ignore[union-attr]
        self._out = []

    def _finish(self, reusable: bool) -> None:
        exchange, self.exchange = self.exchange, None
        self._client = None
        if exchange is not None:
            exchange.finished(self, reusable)

    def _fail(self, error: Exception) -> None:
        exchange = self.exchange
        self.close()
        if exchange is not None:
            exchange.failed(self, error, self._started)

    def _check_deadline(self) -> None:
        """The head timeout: fail an exchange whose response has not begun by its deadline."""
        self._timer = None
        if self.exchange is None or self._started:
            return
        if self._loop.time() >= self._deadline:
            self._fail(TimeoutError())
        else:
            self._timer = self._loop.call_at(self._deadline, self._check_deadline)


async def open_upstream(key: PoolKey, sock: socket.socket) -> Upstream:
    """An `Upstream` over a socket the compute driver connected."""
    _, conn = await asyncio.get_running_loop().create_connection(lambda: Upstream(key),
                                                                 sock=sock)
    return conn
