"""ASGI middleware: a request id on every response, and the request body size limit."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class BodyTooLarge(StarletteHTTPException):
    """Raised from inside receive(); an HTTPException so FastAPI's body parsing passes it on."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes; send a smaller body.")


class RequestContextMiddleware:
    """Gives each request an id (the caller's x-request-id if sane) and caps the body size."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        offered = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _CLIENT_ID.match(offered) else "req_" + uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        raw_id = request_id.encode()

        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await self._too_large(send, raw_id)
            return

        started = False
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", raw_id)]
            await send(message)

        try:
            await self.app(scope, counting_receive, send_with_id)
        except BodyTooLarge:
            if not started:
                await self._too_large(send, raw_id)

    async def _too_large(self, send: Send, raw_id: bytes) -> None:
        body: dict[str, Any] = {
            "error": {
                "code": "TOO_LARGE",
                "message": f"The request body is larger than {self.max_body_bytes} bytes.",
                "details": {"field": "body", "rule": f"at most {self.max_body_bytes} bytes",
                            "fix": "Send a smaller body."},
                "retryable": False,
            },
            "request_id": raw_id.decode(),
        }
        payload = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"x-request-id", raw_id),
        ]})
        await send({"type": "http.response.body", "body": payload})
