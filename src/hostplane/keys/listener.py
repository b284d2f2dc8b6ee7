"""Fans key changes out across processes: LISTEN on PostgreSQL, invalidate the local cache."""

from __future__ import annotations

import logging
import threading

import psycopg
from sqlalchemy.engine import URL

from hostplane.keys.cache import CHANNEL, KeyCache

log = logging.getLogger("hostplane.keys")


class KeyChangeListener:
    """A daemon thread holding one LISTEN connection. While it is not connected the cache is off."""

    def __init__(self, url: URL, cache: KeyCache) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._cache = cache
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hostplane-key-listener", daemon=True)

    def start(self, *, wait_seconds: float = 5.0) -> None:
        self._cache.enabled = False
        self._thread.start()
        self._ready.wait(wait_seconds)

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    # Anything cached before LISTEN took effect may have missed a change.
                    self._cache.invalidate()
                    self._cache.enabled = True
                    self._ready.set()
                    backoff = 0.5
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._cache.invalidate(note.payload)
            except Exception as exc:  # connection lost: stop trusting the cache until back
                if not self._stop.is_set():
                    log.warning("key change listener disconnected (%s); cache off",
                                type(exc).__name__)
            finally:
                self._cache.enabled = False
                self._cache.invalidate()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 10.0)
