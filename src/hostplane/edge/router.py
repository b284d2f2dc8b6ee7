"""The edge's view of the database: targets by host, branding by organization and files by
version, cached (edge/cache.py) and forgotten when a route change is announced."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from hostplane.branding.models import Branding
from hostplane.db.engine import Database
from hostplane.edge.cache import RouteCache
from hostplane.edge.offload import Offload
from hostplane.edge.pages import NEUTRAL, Look
from hostplane.edge.routes import UNKNOWN, Target, resolve
from hostplane.resources.models import DeploymentVersion
from hostplane.urls import Platform


MAX_CACHED_FILES = 200_000  # file entries of cached version manifests, across versions


class Router:
    def __init__(self, database: Database, platform: Platform, *, cache: RouteCache,
                 offload: Offload) -> None:
        self.database, self.platform, self.cache = database, platform, cache
        self.offload = offload
        # Files of a version never change: kept, least recently used first out, while they
        # hold at most MAX_CACHED_FILES entries in all.
        self._manifests: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._cached_files = 0

    @property
    def manifests(self) -> dict[str, dict[str, Any]]:
        """The manifests cached so far, by version (read without waiting by the fast path)."""
        return self._manifests

    def known(self, host: str) -> tuple[bool, Target | None]:
        """The host's cached target, without waiting: (False, None) when it must be looked up."""
        return self.cache.get(("host", host))

    async def target(self, host: str) -> Target:
        return await self._cached(("host", host), self.lookup, host)

    async def look(self, tenant_id: str | None) -> Look:
        if tenant_id is None:
            return NEUTRAL
        return await self._cached(("look", tenant_id), self._look, tenant_id)

    async def manifest(self, version_id: str) -> dict[str, Any]:
        found = self._manifests.get(version_id)
        if found is not None:
            self._manifests.move_to_end(version_id)
            return found
        found = await self.offload.once(("manifest", version_id), self.offload.lookups,
                                        self._manifest, version_id)
        if version_id not in self._manifests:
            self._manifests[version_id] = found
            self._cached_files += len(found)
            while self._cached_files > MAX_CACHED_FILES and len(self._manifests) > 1:
                _, dropped = self._manifests.popitem(last=False)
                self._cached_files -= len(dropped)
        return found

    def lookup(self, host: str) -> Target:
        """The host's target, from the database (no cache)."""
        with self.database.transaction(write=False) as session:
            return resolve(session, self.platform, host)

    async def _cached(self, key: Any, load: Callable[[str], Any], arg: str) -> Any:
        hit, value = self.cache.get(key)
        if hit:
            return value
        generation = self.cache.generation
        # One database lookup per key at a time (an expired hot host is asked for once, not by
        # every request that arrives meanwhile); per generation, so nobody who arrives after a
        # change joins a lookup that began before it.
        value = await self.offload.once((key, generation), self.offload.lookups, load, arg)
        self.cache.put(key, value, generation=generation, negative=value == UNKNOWN)
        return value

    def _look(self, tenant_id: str) -> Look:
        with self.database.transaction(write=False) as session:
            row = session.scalars(select(Branding).where(Branding.tenant_id == tenant_id)).first()
        if row is None:
            return Look(powered_by_visible=True)
        logo = row.logo_url or (row.assets or {}).get("logo", {}).get("url")
        return Look(app_name=row.product_name, logo_url=logo, support_url=row.support_url,
                    primary_color=row.primary_color,
                    powered_by_visible=bool(row.powered_by_visible))

    def _manifest(self, version_id: str) -> dict[str, Any]:
        with self.database.transaction(write=False) as session:
            return session.scalar(select(DeploymentVersion.artifact_manifest).where(
                DeploymentVersion.id == version_id)) or {}
