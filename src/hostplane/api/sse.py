"""Server-sent events: a blocking generator (a command's output, a process's log) turned into a
streamed `text/event-stream` response, one thread hop per piece, closed when the client goes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
from fastapi.responses import StreamingResponse

MEDIA_TYPE = "text/event-stream"
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {MEDIA_TYPE: {}}, "description": "Server-sent events"}}
_END = object()


def frame(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


POLL_SECONDS = 0.25  # and producers of empty frames wait about as long (TICK_SECONDS)
KEEPALIVE_POLLS = 60  # a comment every 15 s of silence keeps proxies from closing the stream


async def stream(frames: Iterator[bytes | None], run: Callable[..., Any]) -> StreamingResponse:
    """Respond with `frames`, each produced in a worker thread by `run(fn)`. The first is asked
    for before answering: a refusal it raises is an ordinary JSON error, not a broken stream.
    An empty frame means "nothing yet, ask again" (its producer waited already); None means
    "nothing yet": the stream waits here, holding no thread, and asks again. A client that
    leaves is noticed at the next frame, and `frames` is closed."""
    first = await run(next, frames, _END)

    async def body() -> AsyncIterator[bytes]:
        quiet = 0
        piece = first
        try:
            while piece is not _END:
                if piece:
                    quiet = 0
                    yield piece
                else:
                    quiet += 1
                    if quiet % KEEPALIVE_POLLS == 0:
                        yield b": keepalive\n\n"
                    if piece is None:
                        await anyio.sleep(POLL_SECONDS)
                piece = await run(next, frames, _END)
        finally:
            with anyio.CancelScope(shield=True):  # the client left: end the command too
                await run(_close, frames)

    return StreamingResponse(body(), media_type=MEDIA_TYPE,
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _close(frames: Iterator[bytes]) -> None:
    close = getattr(frames, "close", None)
    if close is not None:
        close()


class Lines:
    """Output cut into whole lines (the official client reads `{"line": ...}` frames)."""

    LONGEST = 64 * 1024  # a longer line without a newline is sent in pieces

    def __init__(self) -> None:
        self._held: dict[str, str] = {}
        self._decoders: dict[str, Any] = {}

    def feed(self, kind: str, chunk: bytes) -> Iterator[bytes]:
        import codecs

        decoder = self._decoders.setdefault(kind, codecs.getincrementaldecoder("utf-8")("replace"))
        text = self._held.pop(kind, "") + decoder.decode(chunk)
        *lines, rest = text.split("\n")
        for line in lines:
            yield frame(kind, {"line": line})
        if len(rest) > self.LONGEST:
            yield frame(kind, {"line": rest})
            rest = ""
        if rest:
            self._held[kind] = rest

    def flush(self) -> Iterator[bytes]:
        for kind, decoder in self._decoders.items():
            rest = self._held.pop(kind, "") + decoder.decode(b"", final=True)
            if rest:
                yield frame(kind, {"line": rest})
