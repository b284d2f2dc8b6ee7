"""Small fakes for tests: a clock that can be moved forward."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class MovableClock:
    """Real time plus an offset that tests can advance; never goes backwards."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
