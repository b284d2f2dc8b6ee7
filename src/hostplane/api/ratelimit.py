"""Per-organization rate limits for expensive calls (DNS verification), kept in this process.

A sliding window: at most `limit` calls per `window` per organization. Several API processes each
keep their own window, so the effective limit is per process; that bounds the DNS work one
organization can cause without a shared store.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from datetime import timedelta

from hostplane import errors
from hostplane.clock import Clock


class RateLimiter:
    def __init__(self, clock: Clock, *, limit: int, window: timedelta, what: str) -> None:
        self.clock, self.limit, self.window, self.what = clock, limit, window, what
        self._calls: dict[str, deque] = defaultdict(deque)  # type: ignore[type-arg]
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Count one call for `key`, or raise RateLimited saying when the next one is allowed."""
        now = self.clock.now()
        with self._lock:
            calls = self._calls[key]
            while calls and calls[0] <= now - self.window:
                calls.popleft()
            if len(calls) >= self.limit:
                wait = (calls[0] + self.window - now).total_seconds()
                raise errors.RateLimited(
                    f"Too many {self.what} for this organization: at most {self.limit} per "
                    f"{int(self.window.total_seconds() // 60)} minutes.",
                    retry_after=round(max(wait, 0.001), 3),
                    fix="Wait retry_after seconds; the worker also re-checks on its own.")
            calls.append(now)
