"""Fans changes out across processes: one PostgreSQL LISTEN connection per process, telling each
cache what changed. While it is not connected the caches are off, so a lost message can never keep
a stale entry (a revoked key, a removed route) alive."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Protocol

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

log = logging.getLogger("hostplane.notify")


class Invalidates(Protocol):
    enabled: bool

    def invalidate(self, payload: str | None = None) -> None: ...


class ChangeListener:
    """A daemon thread LISTENing on every channel of `caches` and invalidating the cache of the
    channel a notification arrives on."""

    def __init__(self, url: URL, caches: Mapping[str, Invalidates]) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._caches = dict(caches)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hostplane-change-listener",
                                        daemon=True)

    def start(self, *, wait_seconds: float = 5.0) -> None:
        self._set_enabled(False)
        self._thread.start()
        self._ready.wait(wait_seconds)

    def stop(self) -> None:
        self._stop.set()

    def _set_enabled(self, enabled: bool) -> None:
        for cache in self._caches.values():
            cache.enabled = enabled
            if not enabled:
                cache.invalidate()

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    for channel in self._caches:
                        conn.execute(f"LISTEN {channel}")
                    # Anything cached before LISTEN took effect may have missed a change.
                    for cache in self._caches.values():
                        cache.invalidate()
                    self._set_enabled(True)
                    self._ready.set()
                    backoff = 0.5
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            cache = self._caches.get(note.channel)
                            if cache is not None:
                                cache.invalidate(note.payload)
            except Exception as exc:  # connection lost: stop trusting the caches until back
                if not self._stop.is_set():
                    log.warning("change listener disconnected (%s); caches off",
                                type(exc).__name__)
            finally:
                self._set_enabled(False)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 10.0)


def announce(session: Session, channel: str, payload: str) -> None:
    """Say, when this transaction commits, that `payload` changed on `channel`: to this process's
    listeners (Database.on_change) and, on PostgreSQL, to every process LISTENing."""
    sent = session.info.setdefault("changes", {}).setdefault(channel, set())
    if payload in sent:
        return
    sent.add(payload)
    if session.get_bind().dialect.name == "postgresql":
        # Delivered to every listening process at commit, and never if the transaction rolls back.
        session.connection().execute(text("SELECT pg_notify(:channel, :payload)"),
                                     {"channel": channel, "payload": payload})
