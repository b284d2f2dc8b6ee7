"""Relaying one HTTP request to a port in a sandbox, streaming both ways: the upload as it
arrives (a slow sandbox slows the client, nothing piles up in memory), the response as the
sandbox writes it (server-sent events arrive event by event)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from hostplane.edge.upstream import Pool, PoolKey, UpstreamError, exchange

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
HEAD_TIMEOUT = 300.0  # seconds a sandbox may take to start answering
BODY_IDLE = 30.0  # seconds a client may pause in the middle of sending a body
STOP_POLL = 0.2  # seconds between looks at the edge's `stopping` flag, per event stream


class RequestTimeout(Exception):
    """The client stopped sending its request body."""


async def _next_piece(receive: Receive) -> dict[str, Any]:
    try:
        async with asyncio.timeout(BODY_IDLE):
            return await receive()
    except TimeoutError:
        raise RequestTimeout from None


def request_head(method: bytes, path: bytes, query: bytes,
                 headers: list[tuple[bytes, bytes]], framing: bytes | None) -> bytes:
    """The request line and headers the sandbox receives (origin-form target: never the
    client's absolute form, never a fragment)."""
    target = path + b"?" + query if query else path
    lines = [b"%s %s HTTP/1.1" % (method, target)]
    lines += [name + b": " + value for name, value in headers]
    if framing is not None:
        lines.append(framing)
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def relay(scope: dict[str, Any], receive: Receive, send: Send, pool: Pool, key: PoolKey,
                headers: list[tuple[bytes, bytes]], response_filter: Callable[[Any], Any],
                stopping: threading.Event | None = None) -> None:
    """Send the request to the sandbox and its response to the client. Raises UpstreamError (or
    the driver's refusal) only before anything was sent to the client. A server-sent event
    stream ends cleanly once `stopping` is set (the edge is stopping: api/shutdown.py)."""
    sent = {k for k, _ in scope["headers"]}
    content_length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
    if content_length is not None:
        framing: bytes | None = b"content-length: " + content_length
        chunked = False
    elif b"transfer-encoding" in sent:
        framing, chunked = b"transfer-encoding: chunked", True
    else:
        framing, chunked = None, False
    has_body = framing is not None and content_length != b"0"
    head = request_head(scope["method"].encode(), scope.get("raw_path") or scope["path"].encode(),
                        scope.get("query_string", b""), headers, framing)
    body_done = asyncio.Event()
    first: dict[str, Any] | None = None
    if has_body:
        # Nothing reaches the sandbox before the body's first piece has been parsed: a request
        # whose framing is broken from the start (a bad chunk size) never leaves the edge.
        first = await _next_piece(receive)
        if first["type"] == "http.disconnect":
            return
    else:
        body_done.set()
    is_head = scope["method"] == "HEAD"

    for attempt in (1, 2):
        conn = await pool.get(key)
        try:
            response, body = await exchange(
                conn, head, _request_body(first, receive, body_done) if first else None,
                chunked=chunked, bodyless_response=is_head, head_timeout=HEAD_TIMEOUT)
            break
        except UpstreamError as exc:
            conn.close()
            if attempt == 1 and exc.retryable:
                continue  # the pooled connection had been closed while idle
            raise
        except BaseException:
            conn.close()
            raise
    await send({"type": "http.response.start", "status": response.status,
                "headers": response_filter(response.headers)})
    whole = response.whole_body() if first is None else None
    if whole is not None:
        await send({"type": "http.response.body", "body": whole})
        if response.keep_alive:
            pool.put(conn)
        else:
            conn.close()
        return
    # A body of known length ends by itself; one without (chunked, server-sent events) may never
    # end, so it is read only while the client is still there.
    sized = any(name == b"content-length" for name, _ in response.headers)
    watcher = None if sized else asyncio.ensure_future(_disconnected(receive, body_done))
    events = not sized and stopping is not None and any(
        name == b"content-type" and value.lower().startswith(b"text/event-stream")
        for name, value in response.headers)
    stop = asyncio.ensure_future(_stopped(stopping)) if events and stopping else None
    try:
        async for piece in (body if watcher is None else _racing(body, watcher, stop)):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except UpstreamError:
        response.keep_alive = False  # headers are out: end the response without its end
    finally:
        if watcher is not None:
            watcher.cancel()
        if stop is not None:
            stop.cancel()
        with contextlib.suppress(BaseException):
            await body.aclose()  # type: ignore[attr-defined]
        if response.keep_alive and response._done:
            pool.put(conn)
        else:
            conn.close()


async def _request_body(first: dict[str, Any], receive: Receive, done: asyncio.Event
                        ) -> AsyncIterator[bytes]:
    message = first
    while True:
        if message["type"] == "http.disconnect":
            raise UpstreamError("the client went away during the upload")
        yield message.get("body", b"")
        if not message.get("more_body"):
            done.set()
            return
        try:
            message = await _next_piece(receive)
        except RequestTimeout:
            raise UpstreamError("the client stopped sending its body") from None


async def _disconnected(receive: Receive, body_done: asyncio.Event) -> None:
    """Returns when the client disconnects (after its body was read)."""
    await body_done.wait()
    while (await receive())["type"] != "http.disconnect":
        pass


async def _stopped(stopping: threading.Event) -> None:
    while not stopping.is_set():
        await asyncio.sleep(STOP_POLL)


async def _racing(body: AsyncIterator[bytes], watcher: asyncio.Future[None],
                  stop: asyncio.Future[None] | None = None) -> AsyncIterator[bytes]:
    """The body's pieces until it ends or the client disconnects (a stream that never ends,
    such as server-sent events, stops with its reader), or, for an event stream, until the edge
    stops (`stop`): then it ends as if the sandbox had ended it."""
    iterator = body.__aiter__()
    while True:
        step = asyncio.ensure_future(iterator.__anext__())
        await asyncio.wait({step, watcher} | ({stop} if stop else set()),
                           return_when=asyncio.FIRST_COMPLETED)
        if not step.done():
            step.cancel()
            with contextlib.suppress(BaseException):
                await step
            if stop is not None and stop.done():
                return
            raise UpstreamError("the client went away")
        try:
            yield step.result()
        except StopAsyncIteration:
            return
