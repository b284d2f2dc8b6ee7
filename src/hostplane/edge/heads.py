"""Request heads for the edge's fast path (edge/fast.py): the request at the start of a
connection's buffer, read with httptools (llhttp, as uvicorn configures it, so a head it refuses
is refused here too), if it is whole and of the one kind the fast path relays itself.

Anything else (a refused head, HTTP/1.0, `Connection: close`, `Upgrade`, `Expect`,
`Transfer-Encoding`, `HEAD`, a body not yet whole or over MAX_BODY, a Host that is not one DNS
name, the `preview_token` parameter) reads as None: uvicorn and the ASGI app judge it.
"""

from __future__ import annotations

import httptools

from hostplane.edge.forwarding import TOKEN_PARAM
from hostplane.edge.routes import parse_host

MAX_BODY = 64 * 1024  # a larger body streams through the ASGI app
MAX_HEAD = 64 * 1024  # a head not ended by then is the ASGI app's to judge
MAX_HOSTS = 10_000  # parsed Host headers remembered
_TOKEN = TOKEN_PARAM.encode()
_HOSTS: dict[bytes, tuple[str, str] | None] = {}


class HotRequest:
    """A whole request the fast path may relay, and where its answer stands."""

    __slots__ = ("method", "path", "query", "headers", "length", "body", "size", "host", "port",
                 "target", "client", "conn", "attempt", "sent", "status", "written")

    def __init__(self) -> None:
        self.path, self.headers, self.length = b"", [], None
        self.target, self.client, self.conn, self.attempt = None, None, None, 0
        self.status = self.written = 0  # of the answer, for the edge's traffic figures


class HeadReader:
    """Reads one request after another from a connection (a parser of its own per connection)."""

    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._request = HotRequest()
        self._headers_done = self._complete = False
        self._begun = 0

    def read(self, buffer: bytes, head_end: int) -> HotRequest | None:
        """The request whose head ends at `head_end`, if it is whole and hot."""
        self._request, self._headers_done, self._complete = HotRequest(), False, False
        self._begun = 0
        request, parser = self._request, self._parser
        try:
            parser.feed_data(buffer[:head_end])
            if not self._headers_done or parser.should_upgrade() \
                    or parser.get_http_version() != "1.1" or not parser.should_keep_alive():
                return None
            request.method = parser.get_method()
            size = 0 if request.length is None else int(request.length)
            if size > MAX_BODY or len(buffer) < head_end + size:
                return None
            if size:
                parser.feed_data(buffer[head_end:head_end + size])
            # Exactly one message in exactly these bytes: where the parser's idea of the end
            # differs from ours, the ASGI app judges (llhttp is strict, so this never happens).
            if not self._complete or self._begun != 1 or request.method == b"HEAD":
                return None
            url = httptools.parse_url(request.path)
        except (httptools.HttpParserError, httptools.HttpParserInvalidURLError, ValueError):
            return None
        query = url.query or b""
        if not (url.path or b"").startswith(b"/"):  # absolute form without a path, or *
            return None
        if _TOKEN in query:  # the edge's own parameter: the ASGI app trades it for a cookie
            return None
        hosts = [value for name, value in request.headers if name == b"host"]
        parsed = _parsed_host(hosts[0]) if len(hosts) == 1 else None
        if parsed is None:
            return None
        request.host, request.port = parsed
        request.path, request.query = url.path, query
        request.body = buffer[head_end:head_end + size]
        request.size = head_end + size
        return request

    # httptools
    def on_message_begin(self) -> None:
        self._begun += 1

    def on_url(self, url: bytes) -> None:
        self._request.path += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        value = value.rstrip(b" \t")  # as uvicorn: llhttp keeps trailing whitespace
        if name == b"content-length":
            self._request.length = value
        elif name in (b"transfer-encoding", b"expect", b"upgrade"):
            raise _NotHot
        self._request.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_message_complete(self) -> None:
        self._complete = True


class _NotHot(ValueError):
    """Raised in a parser callback to stop at a header the fast path never relays itself."""


def _parsed_host(raw: bytes) -> tuple[str, str] | None:
    """parse_host, remembered for the hosts seen lately (a few per connection, the same on every
    request of it; made-up hosts only ever empty the memo)."""
    try:
        return _HOSTS[raw]
    except KeyError:
        if len(_HOSTS) >= MAX_HOSTS:
            _HOSTS.clear()
        parsed = _HOSTS[raw] = parse_host(raw.decode("latin-1"))
        return parsed
