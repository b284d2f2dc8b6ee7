"""Response heads as bytes, for the edge's fast path (edge/fast.py), written as uvicorn writes
them: its status lines (the standard reason phrase, none for an unknown code), no Server header,
no Date of its own."""

from __future__ import annotations

import http

STATUS_LINES = {status.value: b"HTTP/1.1 %d %s\r\n" % (status.value, status.phrase.encode())
                for status in http.HTTPStatus}


def response_head(status: int, headers: list[tuple[bytes, bytes]], framing: bytes = b"") -> bytes:
    """The status line, `headers`, then `framing` (a header line of its own, or nothing)."""
    line = STATUS_LINES.get(status) or b"HTTP/1.1 %d \r\n" % status
    return b"".join([line, *(b"%s: %s\r\n" % pair for pair in headers), framing, b"\r\n"])
