"""Verified API keys, cached per process by the SHA-256 of the key (never the key itself).

Every request authenticates, so a hit must cost no database round trip. A change to a key (revoke,
rotate, rescope) is announced when its transaction commits: in this process directly, and to every
other process through PostgreSQL NOTIFY (db/notify.py). A generation counter stops a lookup that
raced with a change from caching what it read before the change. Entries also age out after
`ttl` (which is also how often last_used_at is written), and when the NOTIFY listener is down the
cache is switched off, so a lost message can never keep a revoked key alive.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from hostplane.clock import Clock
from hostplane.db.notify import announce

CHANNEL = "hostplane_keys"
ALL = "*"  # announced when every key must be forgotten


@dataclass(frozen=True, slots=True)
class CachedKey:
    key_id: str
    tenant_id: str
    tenant_slug: str
    scopes: frozenset[str]
    expires_at: datetime | None
    cached_at: datetime
    # The organization had finished setup when the key was read. Setup is permanent (name and
    # slug never change after it), and finishing it forgets every cached key anyway.
    set_up: bool = False


class KeyCache:
    def __init__(self, clock: Clock, *, ttl: timedelta, max_entries: int = 100_000) -> None:
        self.clock = clock
        self.ttl = ttl
        self.max_entries = max_entries
        self.enabled = True
        self._entries: dict[str, CachedKey] = {}
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        return self._generation

    def get(self, key_hash: str) -> CachedKey | None:
        entry = self._entries.get(key_hash)
        if entry is None or not self.enabled:
            return None
        if self.clock.now() - entry.cached_at >= self.ttl:
            self._entries.pop(key_hash, None)
            return None
        return entry

    def put(self, key_hash: str, entry: CachedKey, *, generation: int) -> None:
        """Cache `entry` unless any key changed since `generation` was read."""
        with self._lock:
            if not self.enabled or generation != self._generation:
                return
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key_hash] = entry

    def invalidate(self, key_hash: str | None = None) -> None:
        """Forget one key (or all of them, with None)."""
        with self._lock:
            self._generation += 1
            if key_hash is None or key_hash == ALL:
                self._entries.clear()
            else:
                self._entries.pop(key_hash, None)


def key_changed(session: Session, key_hash: str = ALL) -> None:
    """Announce, when this transaction commits, that the key with this hash (or every key,
    with ALL: the organization's identity changed) changed."""
    announce(session, CHANNEL, key_hash)
