"""The edge's view of the database: targets by host, branding by organization and files by
version, cached (edge/cache.py) and forgotten when a route change is announced."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from hostplane.branding.models import Branding
from hostplane.db.engine import Database
from hostplane.edge.cache import RouteCache
from hostplane.edge.pages import NEUTRAL, Look
from hostplane.edge.routes import Target, resolve
from hostplane.resources.models import DeploymentVersion
from hostplane.urls import Platform


class Router:
    def __init__(self, database: Database, platform: Platform, *, cache: RouteCache) -> None:
        self.database, self.platform, self.cache = database, platform, cache
        # Files of a version never change: kept until there are too many.
        self._manifests: dict[str, dict[str, Any]] = {}

    async def target(self, host: str) -> Target:
        return await self._cached(("host", host), self.lookup, host)

    async def look(self, tenant_id: str | None) -> Look:
        if tenant_id is None:
            return NEUTRAL
        return await self._cached(("look", tenant_id), self._look, tenant_id)

    async def manifest(self, version_id: str) -> dict[str, Any]:
        found = self._manifests.get(version_id)
        if found is None:
            found = await asyncio.to_thread(self._manifest, version_id)
            if len(self._manifests) >= 1024:
                self._manifests.clear()
            self._manifests[version_id] = found
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
        value = await asyncio.to_thread(load, arg)
        self.cache.put(key, value, generation=generation)
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
