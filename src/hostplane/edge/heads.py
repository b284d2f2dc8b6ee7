"""Request heads for the edge's fast path (edge/fast.py): the request at the start of a
connection's buffer, if it is whole and of the one kind the fast path relays itself, read and
rewritten for the sandbox in one pass over its lines.

The fast path accepts a strict subset of what llhttp (uvicorn's parser, which judges everything
else) accepts, checked by one regular expression over the whole head before anything is read
from it: a request line `METHOD SP origin-form SP HTTP/1.1` with a method of a short list and a
target of RFC 3986 characters only (no fragment, no space, no controls, no absolute form), then
header lines `token ":" visible-ASCII-or-tab` each ended by CRLF (no obs-fold, no whitespace before
the colon, no bare CR or LF, no bytes above 0x7e). Exactly one Host, at most one Content-Length
of digits only, no Transfer-Encoding, Expect or Upgrade, no Connection other than keep-alive.
A head outside that subset reads as None, and uvicorn and the ASGI app judge it (a smuggling
attempt is refused there with 400, as before); so does HEAD, a body not yet whole or over
MAX_BODY, a Host that is not one DNS name, and the `preview_token` parameter (HEAD is not
in the list of methods).

What the sandbox receives is the rule of edge/forwarding.py, applied to the lines as bytes: the
client's own header lines pass (`name: value`, the name in lower case) except hop-by-hop fields, forwarding claims, Host,
Content-Length, `X-Miosa-*`, a platform credential in Authorization and the edge's own cookies;
the edge's forwarding lines (forwarding.forwarding_lines) follow.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from hostplane.edge.forwarding import (
    FORWARDING,
    HOP_BY_HOP,
    TOKEN_PARAM,
    is_platform_credential,
    without_preview_cookies,
)
from hostplane.edge.routes import parse_host

MAX_BODY = 64 * 1024  # a larger body streams through the ASGI app
MAX_HEAD = 64 * 1024  # a head not ended by then is the ASGI app's to judge
MAX_HOSTS = 10_000  # parsed Host headers remembered
_TOKEN = TOKEN_PARAM.encode()
_HOSTS: dict[bytes, tuple[str, str] | None] = {}

_TCHAR = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
_HEAD = re.compile(
    rb"(?:GET|POST|PUT|DELETE|PATCH|OPTIONS) (?:[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9\-._~!$&'()*+,;="
    rb":@%\[\]]+)?/[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]* HTTP/1\.1\r\n"
    rb"(?:" + _TCHAR + rb"+:[\t -~]*\r\n)*\r\n")

# What a header line's name means here (names not listed pass as they came).
_DROP, _HOST, _LENGTH, _REFUSE, _CONNECTION, _AUTH, _COOKIE, _XFF, _ACCEPT, _FILES = range(10)
_ACTION: dict[bytes, int] = {name: _DROP for name in HOP_BY_HOP | FORWARDING}
_ACTION |= {b"host": _HOST, b"content-length": _LENGTH, b"transfer-encoding": _REFUSE,
            b"expect": _REFUSE, b"upgrade": _REFUSE, b"connection": _CONNECTION,
            b"authorization": _AUTH, b"cookie": _COOKIE, b"x-forwarded-for": _XFF,
            b"accept": _ACCEPT, b"range": _FILES, b"if-none-match": _FILES,
            b"accept-encoding": _FILES}


class HotRequest:
    """A whole request the fast path may relay, and where its answer stands."""

    __slots__ = ("line", "kept", "length", "body", "size", "raw_host", "host", "port", "xff",
                 "accept", "files", "target", "client", "conn", "attempt", "sent", "status",
                 "written")

    def __init__(self) -> None:
        self.target, self.client, self.conn, self.attempt = None, None, None, 0
        self.status = self.written = 0  # of the answer, for the edge's traffic figures

    def file_header(self, name: bytes) -> bytes | None:
        """The first Range, If-None-Match or Accept-Encoding header's value (deployments)."""
        return self.files.get(name) if self.files else None


def read(buffer: bytes, head_end: int, is_ours: Callable[[str], bool]) -> HotRequest | None:
    """The request whose head ends at `head_end` (just past its blank line), if it is whole and
    hot. `is_ours` tells a browser token signed by this platform (edge/forwarding.py)."""
    if _HEAD.fullmatch(buffer, 0, head_end) is None:
        return None
    lines = buffer[:head_end - 4].split(b"\r\n")
    line = lines[0]
    if _TOKEN in line:  # the edge's own parameter: the ASGI app trades it for a cookie
        return None
    method, _, rest = line.partition(b" ")
    if rest[0] != 47:  # absolute form: the sandbox gets the origin form (routing is by Host)
        rest = rest[rest.index(b"/", rest.index(b"//") + 2):]
        line = method + b" " + rest
    request = HotRequest()
    kept: list[bytes] = []
    raw_host = length = xff = accept = named = files = None
    for header in lines[1:]:
        name, _, value = header.partition(b":")
        name = name.lower()
        action = _ACTION.get(name)
        if action is None:
            if not name.startswith(b"x-miosa-"):  # as uvicorn's reading passed them on
                kept.append(name + b": " + value.strip(b" \t"))
            continue
        if action == _DROP:
            continue
        value = value.strip(b" \t")
        header = name + b": " + value
        if action == _HOST:
            if raw_host is not None:
                return None
            raw_host = value
        elif action == _LENGTH:
            if length is not None or not value.isdigit() or len(value) > 9:
                return None
            length = value
        elif action == _ACCEPT:
            accept = value
            kept.append(header)
        elif action == _FILES:
            files = files or {}
            files.setdefault(name, value)
            kept.append(header)
        elif action == _XFF:
            xff = value if xff is None else xff
        elif action == _COOKIE:
            cookie = without_preview_cookies(value)
            if cookie is not None:
                kept.append(header if cookie == value else b"cookie: " + cookie)
        elif action == _AUTH:
            if not is_platform_credential(value, is_ours):
                kept.append(header)
        elif action == _CONNECTION:
            for option in value.lower().split(b","):
                option = option.strip(b" \t")
                if option == b"close":
                    return None  # uvicorn's (it closes after the response)
                if option != b"keep-alive":
                    named = (named or set()) | {option}  # fields for this hop only
        else:  # _REFUSE
            return None
    if raw_host is None:
        return None
    if named:
        kept = [header for header in kept if header.partition(b":")[0] not in named]
    size = 0 if length is None else int(length)
    if size > MAX_BODY or len(buffer) < head_end + size:
        return None
    parsed = _parsed_host(raw_host)
    if parsed is None:
        return None
    request.host, request.port = parsed
    request.line, request.raw_host, request.xff, request.accept = line, raw_host, xff, accept
    request.files = files
    request.kept = b"\r\n".join(kept) + b"\r\n" if kept else b""
    request.length = length
    request.body = buffer[head_end:head_end + size] if size else b""
    request.size = head_end + size
    return request


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
