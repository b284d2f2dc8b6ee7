"""Blocking work of the edge, each kind on threads of its own, so no kind can starve another:
connecting into sandboxes (which may wait seconds for a port that never answers), database
lookups, and file work (gzip). One sandbox may have only so many connects under way at once."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from hostplane import errors
from hostplane.edge.limits import release

T = TypeVar("T")
CONNECTS_PER_SANDBOX = 16
CONNECT_WAIT = 5.0  # seconds a connect may wait for its turn (a sandbox's connect timeout)


class Offload:
    def __init__(self) -> None:
        self.connects = ThreadPoolExecutor(64, thread_name_prefix="edge-connect")
        self.lookups = ThreadPoolExecutor(8, thread_name_prefix="edge-lookup")
        self.files = ThreadPoolExecutor(4, thread_name_prefix="edge-files")
        self._turns: dict[str, asyncio.Semaphore] = {}
        self._connecting: dict[str, int] = {}  # connects under way or waiting, per sandbox
        self._single: dict[Any, asyncio.Future[Any]] = {}

    async def run(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            pool, functools.partial(fn, *args))

    async def connect(self, fn: Callable[..., T], sandbox_id: str, *args: Any) -> T:
        """`fn(sandbox_id, *args)` on the connect threads, at most CONNECTS_PER_SANDBOX at once
        for one sandbox: a burst of visitors waits its turn, up to CONNECT_WAIT seconds, then
        is refused (503), so a sandbox that never accepts can't hold every thread."""
        turns = self._turns.get(sandbox_id)
        if turns is None:
            turns = self._turns[sandbox_id] = asyncio.Semaphore(CONNECTS_PER_SANDBOX)
        self._connecting[sandbox_id] = self._connecting.get(sandbox_id, 0) + 1
        try:
            try:
                async with asyncio.timeout(CONNECT_WAIT):
                    await turns.acquire()
            except TimeoutError:
                raise errors.Unavailable("Too many connections are being opened to this "
                                         "sandbox.", code="TOO_MANY_CONNECTIONS") from None
            try:
                return await self.run(self.connects, fn, sandbox_id, *args)
            finally:
                turns.release()
        finally:
            release(self._connecting, sandbox_id)
            if sandbox_id not in self._connecting:
                del self._turns[sandbox_id]

    async def once(self, key: Any, pool: ThreadPoolExecutor, fn: Callable[..., T],
                   *args: Any) -> T:
        """`fn(*args)`, run once for every caller that asks for `key` while it runs."""
        running = self._single.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[T] = asyncio.ensure_future(self.run(pool, fn, *args))
        self._single[key] = future
        future.add_done_callback(lambda _f: self._single.pop(key, None))
        return await asyncio.shield(future)

    def close(self) -> None:
        for pool in (self.connects, self.lookups, self.files):
            pool.shutdown(wait=False, cancel_futures=True)
