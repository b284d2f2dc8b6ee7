"""The edge's cache of routes (and of what error pages show), per process.

A lookup reads the generation before it asks the database and caches its answer only if no change
was announced in between, so a lookup racing a change never keeps the old answer. Entries also age
out after `ttl` seconds (the safety net for a lost notification); while the PostgreSQL listener is
down the cache is off (db/notify.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class RouteCache:
    def __init__(self, ttl: float, *, max_entries: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        self.enabled = True
        self._entries: dict[Any, tuple[float, Any]] = {}
        self._negative: dict[Any, tuple[float, Any]] = {}
        self.max_negative = max(max_entries // 10, 1)
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        return self._generation

    def get(self, key: Any) -> tuple[bool, Any]:
        entry = self._entries.get(key) or self._negative.get(key)
        if entry is None or not self.enabled:
            return False, None
        if self.clock() >= entry[0]:
            self._entries.pop(key, None)
            self._negative.pop(key, None)
            return False, None
        return True, entry[1]

    def put(self, key: Any, value: Any, *, generation: int, negative: bool = False) -> None:
        """Cache `value` unless a change was announced since `generation`. Negative answers
        (hosts nobody serves: anyone can make up new ones) have a small budget of their own, so
        a flood of them never pushes out the routes in use."""
        with self._lock:
            if not self.enabled or generation != self._generation:
                return
            entries = self._negative if negative else self._entries
            limit = self.max_negative if negative else self.max_entries
            if len(entries) >= limit:
                self._evict(entries, limit)
            entries[key] = (self.clock() + self.ttl, value)

    def _evict(self, entries: dict[Any, tuple[float, Any]], limit: int) -> None:
        """Drop the expired entries, and the oldest half if that is not enough."""
        now = self.clock()
        for key in [k for k, (expires, _v) in entries.items() if expires <= now]:
            del entries[key]
        if len(entries) >= limit:
            for key in list(entries)[: len(entries) // 2]:
                del entries[key]

    def invalidate(self, payload: str | None = None) -> None:
        """Forget everything (any route change may touch any host)."""
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._negative.clear()
