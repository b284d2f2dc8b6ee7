"""What services need from outside the database: URL naming, compute, DNS, database engines,
the bounds of this host and the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hostplane.branding.assets import AssetStore
from hostplane.compute.databases import DatabaseHost
from hostplane.compute.port import ComputeDriver
from hostplane.compute.releases import ReleaseStore
from hostplane.domains.resolver import Resolver
from hostplane.resources.capacity import Capacity
from hostplane.urls import Platform


@dataclass(frozen=True)
class Env:
    platform: Platform
    driver: ComputeDriver
    now: datetime
    resolver: Resolver
    databases: DatabaseHost
    capacity: Capacity
    releases: ReleaseStore
    assets: AssetStore | None = None  # branding images (desktop wallpapers)
