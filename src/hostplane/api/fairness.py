"""Compute-driver calls shared fairly: each organization has a share of its own (a busy tenant
queues behind itself), all of them together a global cap, and a call that waits past its
deadline is 503 DRIVER_BUSY with retry_after instead of hanging."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
from anyio import CapacityLimiter, to_thread

from hostplane import errors

T = TypeVar("T")


class DriverShares:
    def __init__(self, *, total: int, per_organization: int, wait_seconds: float) -> None:
        self.per_organization, self.wait_seconds = per_organization, wait_seconds
        self._total = CapacityLimiter(total)
        self._shares: dict[str, CapacityLimiter] = {}

    async def run(self, tenant_id: str, fn: Callable[[], T]) -> T:
        share = self._shares.get(tenant_id)
        if share is None:
            share = self._shares[tenant_id] = CapacityLimiter(self.per_organization)
        try:
            with anyio.fail_after(self.wait_seconds):
                await share.acquire()
        except TimeoutError:
            raise errors.Unavailable(
                f"This organization already runs {self.per_organization} sandbox commands or "
                "file transfers at once, and this one waited its turn for "
                f"{self.wait_seconds:.0f} s.", code="DRIVER_BUSY",
                retry_after=min(self.wait_seconds, 5.0),
                fix="Retry after retry_after seconds, or run fewer commands at once.") from None
        try:
            return await to_thread.run_sync(fn, limiter=self._total)
        finally:
            share.release()
