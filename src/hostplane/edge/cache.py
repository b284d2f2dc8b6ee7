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
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        return self._generation

    def get(self, key: Any) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is None or not self.enabled:
            return False, None
        if self.clock() >= entry[0]:
            self._entries.pop(key, None)
            return False, None
        return True, entry[1]

    def put(self, key: Any, value: Any, *, generation: int) -> None:
        with self._lock:
            if not self.enabled or generation != self._generation:
                return
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (self.clock() + self.ttl, value)

    def invalidate(self, payload: str | None = None) -> None:
        """Forget everything (any route change may touch any host)."""
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
