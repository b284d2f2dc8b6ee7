"""What every call shares, sync or async: a `Call` describes one request; the transports send it
(with the API key, an automatic Idempotency-Key on creates, and retries with backoff on 429 and
5xx that honour `retry_after`) and turn the answer into models or errors."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
from pydantic import BaseModel

from hostplane import __version__
from hostplane.client import errors

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
MAX_WAIT = 30.0  # a 429 asking to wait longer than this is raised, not slept through


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # under /api/v1 (or absolute, starting with "/." or "/assets")
    json: Any = None
    params: dict[str, Any] | None = None
    content: bytes | None = None
    content_type: str | None = None
    model: type[BaseModel] | None = None
    many: bool = False  # the answer is a list of `model`
    create: bool = False  # sends an Idempotency-Key, so a retried create never duplicates
    retry: bool | None = None  # None: safe methods and creates are retried
    idempotency_key: str | None = None
    keep_none: bool = False  # send None fields as null (branding: null resets a field)
    secret: str | None = None  # the field holding a secret the server shows once


@dataclass(frozen=True)
class Options:
    base_url: str
    api_key: str
    timeout: float = 30.0
    max_retries: int = 3
    tenant: str | None = None


def _base(url: str) -> str:
    """The server's root: MIOSA_BASE_URL values end in /api/v1 by that client's convention."""
    url = url.rstrip("/")
    return url[: -len("/api/v1")] if url.endswith("/api/v1") else url


def prepare(call: Call) -> Call:
    """Fix the Idempotency-Key once, so every retry of this call carries the same one."""
    if call.create and call.idempotency_key is None:
        return replace(call, idempotency_key=f"hp-{uuid.uuid4()}")
    return call


def request_args(options: Options, call: Call) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {options.api_key}",
               "User-Agent": f"hostplane-client/{__version__}"}
    if call.idempotency_key:
        headers["Idempotency-Key"] = call.idempotency_key
    if options.tenant:
        headers["X-MIOSA-Tenant"] = options.tenant
    if call.content_type:
        headers["Content-Type"] = call.content_type
    absolute = call.path.startswith(("/.well-known", "/assets", "/healthz"))
    url = _base(options.base_url) + ("" if absolute else "/api/v1") + call.path
    params = {k: v for k, v in (call.params or {}).items() if v is not None}
    args: dict[str, Any] = {"method": call.method, "url": url, "headers": headers,
                            "params": params or None}
    if call.content is not None:
        args["content"] = call.content
    elif call.json is not None:
        args["json"] = {k: v for k, v in call.json.items() if v is not None} \
            if isinstance(call.json, dict) and not call.keep_none else call.json
    return args


def retryable(call: Call) -> bool:
    return call.retry if call.retry is not None else (
        call.method in SAFE_METHODS or call.idempotency_key is not None)


def delay(attempt: int, error: errors.ApiError | None) -> float:
    """The server's retry_after when it gives one, else exponential backoff with jitter."""
    if error is not None and error.retry_after is not None:
        return min(error.retry_after, MAX_WAIT)
    return min(8.0, 0.25 * 2 ** attempt) * (0.5 + random.random() / 2)


def result(call: Call, response: httpx.Response) -> Any:
    """The answer as models (or plain data), or the error it stands for."""
    if response.status_code == 204:
        return None
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = response.text
    if response.status_code >= 400:
        header = response.headers.get("retry-after")
        raise errors.from_response(
            response.status_code, body, response.headers.get("x-request-id"),
            float(header) if header and header.isdigit() else None)
    data = unwrap(body)
    if call.secret and response.headers.get("idempotent-replayed") == "true" and \
            isinstance(data, dict) and not data.get(call.secret):
        # The first answer was lost in transit; the server shows a secret only once.
        raise errors.HostplaneError(
            f"The create succeeded (id {data.get('id')}) but its answer was lost, and its "
            f"{call.secret} is shown only once: revoke it and create another.")
    if call.model is None:
        return data
    if call.many:
        return [call.model.model_validate(item) for item in data]
    return call.model.model_validate(data)


def unwrap(body: Any) -> Any:
    """`{"data": …}` or a bare object (the API answers both, as the official clients expect);
    the bare computer list is `{"computers": […]}`."""
    if isinstance(body, dict):
        if "data" in body and set(body) <= {"data", "next_cursor", "meta", "total"}:
            return body["data"]
        if "computers" in body and isinstance(body["computers"], list):
            return body["computers"]
    return body


class SyncTransport:
    def __init__(self, options: Options, http: httpx.Client | None = None) -> None:
        self.options = options
        self.http = http or httpx.Client(timeout=options.timeout)

    def send(self, call: Call) -> Any:
        return result(call, self.raw(call))

    def raw(self, call: Call) -> httpx.Response:
        call = prepare(call)
        for attempt in range(self.options.max_retries + 1):
            last = attempt == self.options.max_retries or not retryable(call)
            try:
                response = self.http.request(**request_args(self.options, call))
            except httpx.TransportError as exc:
                if last:
                    raise errors.ConnectionFailed(f"{self.options.base_url}: {exc}") from exc
                time.sleep(delay(attempt, None))
                continue
            again, pause = _again(call, response, attempt)
            if again and not last:
                time.sleep(pause)
                continue
            if attempt and call.method == "DELETE" and response.status_code == 404:
                return httpx.Response(204, request=response.request)  # the lost first try won
            return response
        raise AssertionError("unreachable")

    def pages(self, call: Call) -> Iterator[Any]:
        """Every item of a list, following next_cursor."""
        cursor = None
        while True:
            page = self.raw(replace(call, params={**(call.params or {}), "cursor": cursor}))
            items = result(call, page)
            yield from items
            cursor = _next_cursor(page)
            if not cursor:
                return

    def close(self) -> None:
        self.http.close()


class AsyncTransport:
    def __init__(self, options: Options, http: httpx.AsyncClient | None = None) -> None:
        self.options = options
        self.http = http or httpx.AsyncClient(timeout=options.timeout)

    async def send(self, call: Call) -> Any:
        return result(call, await self.raw(call))

    async def raw(self, call: Call) -> httpx.Response:
        call = prepare(call)
        for attempt in range(self.options.max_retries + 1):
            last = attempt == self.options.max_retries or not retryable(call)
            try:
                response = await self.http.request(**request_args(self.options, call))
            except httpx.TransportError as exc:
                if last:
                    raise errors.ConnectionFailed(f"{self.options.base_url}: {exc}") from exc
                await asyncio.sleep(delay(attempt, None))
                continue
            again, pause = _again(call, response, attempt)
            if again and not last:
                await asyncio.sleep(pause)
                continue
            if attempt and call.method == "DELETE" and response.status_code == 404:
                return httpx.Response(204, request=response.request)  # the lost first try won
            return response
        raise AssertionError("unreachable")

    async def pages(self, call: Call) -> AsyncIterator[Any]:
        cursor = None
        while True:
            page = await self.raw(replace(call, params={**(call.params or {}), "cursor": cursor}))
            for item in result(call, page):
                yield item
            cursor = _next_cursor(page)
            if not cursor:
                return

    async def close(self) -> None:
        await self.http.aclose()


def _again(call: Call, response: httpx.Response, attempt: int) -> tuple[bool, float]:
    """Whether to try once more, and after how long."""
    status = response.status_code
    if status not in RETRY_STATUSES and status != 409:
        return False, 0.0
    error = _error_of(response)
    if status == 409:  # the same create still running elsewhere: wait for it
        in_use = error is not None and error.code == "IDEMPOTENCY_KEY_IN_USE"
        return in_use and call.idempotency_key is not None, delay(attempt, None)
    if error is not None and error.retry_after is not None and error.retry_after > MAX_WAIT:
        return False, 0.0  # an hourly limit: say so now rather than sleep through it
    return True, delay(attempt, error)


def _error_of(response: httpx.Response) -> errors.ApiError | None:
    try:
        result(Call("GET", ""), response)
    except errors.ApiError as exc:
        return exc
    return None


def _next_cursor(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("next_cursor") if isinstance(body, dict) else None
