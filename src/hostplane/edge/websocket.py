"""Relaying a WebSocket to a port in a sandbox: the edge opens the sandbox's side first (so the
client learns the subprotocol the app chose, or gets the refusal), then passes messages both
ways until either side closes, or until `still_allowed` says the access was revoked."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from hostplane.edge.proxy import Receive, Send

MAX_MESSAGE = 4 * 1024 * 1024
MAX_QUEUE = 4  # messages buffered per direction: a reader that stops can't make the edge hoard
REVOKED = 4403  # close code when access ended while the socket was open


class Refused(Exception):
    """The sandbox did not accept the WebSocket (status is its answer, if any)."""

    def __init__(self, status: int | None) -> None:
        super().__init__(status)
        self.status = status


async def open_upstream(sock: socket.socket, scope: dict[str, Any],
                        headers: list[tuple[bytes, bytes]]) -> ClientConnection:
    host = next((v for k, v in headers if k == b"host"), b"localhost").decode("latin-1")
    path = scope.get("raw_path") or scope["path"].encode()
    if scope.get("query_string"):
        path += b"?" + scope["query_string"]
    skip = {b"host", b"origin", b"sec-websocket-key", b"sec-websocket-version",
            b"sec-websocket-extensions", b"sec-websocket-protocol", b"user-agent"}
    extra = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers if k not in skip]
    agent = next((v for k, v in scope["headers"] if k == b"user-agent"), None)
    origin = next((v for k, v in scope["headers"] if k == b"origin"), None)
    try:
        return await connect(
            f"ws://{host}{path.decode('latin-1')}", sock=sock, proxy=None,
            additional_headers=extra, subprotocols=scope.get("subprotocols") or None,
            origin=origin.decode("latin-1") if origin else None,  # type: ignore[arg-type]
            user_agent_header=agent.decode("latin-1") if agent else None,
            compression=None, max_size=MAX_MESSAGE, max_queue=MAX_QUEUE, open_timeout=10,
            ping_interval=None)
    except InvalidStatus as exc:
        raise Refused(exc.response.status_code) from None
    except (InvalidHandshake, OSError, TimeoutError, EOFError):
        raise Refused(None) from None


async def relay(upstream: ClientConnection, receive: Receive, send: Send,
                revoked: Callable[[], Awaitable[None]] | None = None) -> None:
    """Pass messages both ways; `revoked`, when given, returns once access has ended."""
    await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})

    async def client_to_app() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                await upstream.close(message.get("code", 1000) if _sendable(
                    message.get("code", 1000)) else 1000)
                return
            if message["type"] == "websocket.receive":
                data = message.get("text")
                await upstream.send(data if data is not None else message.get("bytes") or b"")

    async def app_to_client() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for data in upstream:
                key = "text" if isinstance(data, str) else "bytes"
                await send({"type": "websocket.send", key: data})
        code = upstream.close_code or 1000
        await send({"type": "websocket.close", "code": code if _sendable(code) else 1000,
                    "reason": upstream.close_reason or ""})

    tasks = [asyncio.ensure_future(client_to_app()), asyncio.ensure_future(app_to_client())]
    if revoked is not None:
        tasks.append(asyncio.ensure_future(revoked()))
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if revoked is not None and tasks[2] in done:
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": REVOKED,
                            "reason": "access ended"})
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        with contextlib.suppress(Exception):
            await upstream.close()


def _sendable(code: int) -> bool:
    """Close codes an endpoint may send (1005, 1006 and 1015 are only ever reported)."""
    return code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014) \
        or 3000 <= code <= 4999
