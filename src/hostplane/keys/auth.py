"""Authenticating API keys: from the per-process cache when possible, else from the database."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from hostplane import errors
from hostplane.clock import Clock
from hostplane.db.engine import Database
from hostplane.keys.cache import CachedKey, KeyCache
from hostplane.keys.models import ApiKey
from hostplane.keys.service import hash_secret
from hostplane.tenancy.models import Tenant
from hostplane.tenancy.organizations import setup_state
from hostplane.tenancy.principal import Principal


class KeyAuthenticator:
    """Turns a bearer secret into a Principal. `from_cache` does no I/O; `lookup` reads the key,
    writes last_used_at if it is older than `last_used_every`, and caches the result."""

    def __init__(
        self, database: Database, cache: KeyCache, clock: Clock, *, last_used_every: timedelta
    ) -> None:
        self.database = database
        self.cache = cache
        self.clock = clock
        self.last_used_every = last_used_every

    def from_cache(self, secret: str, tenant_header: str | None) -> Principal | None:
        entry = self.cache.get(hash_secret(secret))
        if entry is None:
            return None
        return self._principal(entry, tenant_header, self.clock.now())

    def lookup(self, secret: str, tenant_header: str | None, *, touch: bool = True) -> Principal:
        key_hash = hash_secret(secret)
        generation = self.cache.generation
        now = self.clock.now()
        with self.database.transaction(write=False) as session:
            row = session.execute(
                select(ApiKey.id, ApiKey.tenant_id, ApiKey.scopes, ApiKey.status,
                       ApiKey.expires_at, ApiKey.last_used_at, Tenant.slug, Tenant.name)
                .join(Tenant, Tenant.id == ApiKey.tenant_id)
                .where(ApiKey.key_hash == key_hash)
            ).first()
        if row is None or row.status != "active":
            raise errors.Unauthenticated(
                "The API key is not valid: it is unknown or has been revoked.",
                code="INVALID_API_KEY",
                fix="Create a new key with `hostplane keys create` or POST /api/v1/api-keys.",
            )
        last_used = row.last_used_at
        if touch and (last_used is None or now - last_used >= self.last_used_every):
            # Its own short write, so reads never turn into writes; at most once per interval.
            with self.database.transaction() as session:
                session.execute(update(ApiKey).where(ApiKey.id == row.id)
                                .values(last_used_at=now, updated_at=ApiKey.updated_at))
        entry = CachedKey(row.id, row.tenant_id, row.slug, frozenset(row.scopes), row.expires_at,
                          now, set_up=not setup_state(Tenant(slug=row.slug,
                                                             name=row.name or "")).required)
        principal = self._principal(entry, tenant_header, now)
        if touch:
            self.cache.put(key_hash, entry, generation=generation)
        return principal

    def _principal(self, entry: CachedKey, tenant_header: str | None, now: datetime) -> Principal:
        if entry.expires_at is not None and entry.expires_at <= now:
            raise errors.Unauthenticated(
                "The API key has expired.",
                code="API_KEY_EXPIRED",
                fix="Create a new key, or rotate this one.",
            )
        if tenant_header and tenant_header not in (entry.tenant_id, entry.tenant_slug):
            # Another organization's id or slug looks exactly like one that does not exist.
            raise errors.NotFound(
                f"No organization {tenant_header!r} for this credential.",
                code="ORG_NOT_FOUND",
                field="X-MIOSA-Tenant",
                fix="Send your own organization's id or slug, or leave the header out.",
            )
        return Principal(tenant_id=entry.tenant_id, kind="api_key", subject_id=entry.key_id,
                         scopes=entry.scopes, set_up=entry.set_up)
