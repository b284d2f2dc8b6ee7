"""Limits in one edge process: per organization, open requests and WebSockets at once and a
request rate (a token bucket), so one organization's traffic can't starve another's; and per
client address, open requests at once, so no stranger can use up an organization's share."""

from __future__ import annotations

import time
from collections.abc import Callable


class OrgLimits:
    def __init__(self, *, max_open: int, per_second: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_open, self.per_second, self.clock = max_open, per_second, clock
        self.burst = max(per_second * 2, 1.0)
        self._open: dict[str, int] = {}
        self._buckets: dict[str, tuple[float, float]] = {}  # tenant → (tokens, at)

    def admit(self, tenant_id: str) -> str | None:
        """None when the request may go on (and is counted open until `done`), else the
        situation code to answer with."""
        now = self.clock()
        tokens, at = self._buckets.get(tenant_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.per_second)
        if tokens < 1:
            self._buckets[tenant_id] = (tokens, now)
            return "RATE_LIMITED"
        if self._open.get(tenant_id, 0) >= self.max_open:
            return "TOO_MANY_CONNECTIONS"
        self._buckets[tenant_id] = (tokens - 1, now)
        self._open[tenant_id] = self._open.get(tenant_id, 0) + 1
        return None

    def done(self, tenant_id: str) -> None:
        release(self._open, tenant_id)


class ClientLimits:
    """Open requests and WebSockets of one client address at once."""

    def __init__(self, *, max_open: int) -> None:
        self.max_open = max_open
        self._open: dict[str, int] = {}

    def admit(self, client: str) -> bool:
        count = self._open.get(client, 0)
        if count >= self.max_open:
            return False
        self._open[client] = count + 1
        return True

    def done(self, client: str) -> None:
        release(self._open, client)


def release(counts: dict[str, int], key: str) -> None:
    """One fewer open for `key` (forgotten at none, so idle keys cost no memory)."""
    left = counts.get(key, 1) - 1
    if left:
        counts[key] = left
    else:
        counts.pop(key, None)
