"""What a running process is wired from: settings, the database, the clock, the key cache, the
URL platform and the compute driver."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta

from hostplane.api.fairness import DriverShares
from hostplane.api.ratelimit import RateLimiter
from hostplane.branding.assets import AssetStore
from hostplane.clock import Clock, SystemClock
from hostplane.compute.databases import DatabaseHost
from hostplane.compute.local import LocalDriver, UidRange
from hostplane.compute.port import ComputeDriver
from hostplane.compute.releases import ReleaseStore
from hostplane.db.engine import Database
from hostplane.db.notify import ChangeListener
from hostplane.domains.resolver import DnsResolver, Resolver
from hostplane.keys.auth import KeyAuthenticator
from hostplane.edge import changes
from hostplane.api.metrics import Metrics
from hostplane.events import recorder
from hostplane.edge.cache import RouteCache
from hostplane.keys import cache as keys_cache
from hostplane.keys.cache import KeyCache
from hostplane.resources.capacity import Capacity
from hostplane.settings import Settings
from hostplane.tokens.auth import TokenAuthenticator
from hostplane.tokens.signing import KeyRing
from hostplane.urls import Platform


@dataclass
class Container:
    settings: Settings
    database: Database
    clock: Clock = field(default_factory=SystemClock)
    driver: ComputeDriver | None = None
    resolver: Resolver | None = None
    key_cache: KeyCache = field(init=False)
    platform: Platform = field(init=False)
    _driver_shares: DriverShares | None = field(init=False, default=None)
    verify_limiter: RateLimiter = field(init=False)
    authenticator: KeyAuthenticator = field(init=False)
    key_ring: KeyRing = field(init=False)
    assets: AssetStore = field(init=False)
    databases: DatabaseHost = field(init=False)
    releases: ReleaseStore = field(init=False)
    capacity: Capacity = field(init=False)
    token_authenticator: TokenAuthenticator = field(init=False)
    routes: RouteCache = field(init=False)
    metrics: Metrics = field(init=False)
    _listener: ChangeListener | None = field(init=False, default=None)
    # Set when the server begins a graceful stop: endless streams end (api/shutdown.py).
    stopping: threading.Event = field(init=False, default_factory=threading.Event)

    def __post_init__(self) -> None:
        every = timedelta(seconds=self.settings.key_last_used_resolution_seconds)
        self.key_cache = KeyCache(self.clock, ttl=every)
        self.authenticator = KeyAuthenticator(self.database, self.key_cache, self.clock,
                                              last_used_every=every)
        self.database.on_change(keys_cache.CHANNEL, self.key_cache.invalidate)
        # On PostgreSQL other processes' changes arrive by NOTIFY within a second; SQLite has no
        # such channel, so entries there live half a second (a second process converges within
        # a second).
        self.routes = RouteCache(ttl=0.5 if self.database.is_sqlite else 5.0)
        for factory in self.database.session_factories:
            changes.install(factory)
            recorder.install(factory)
        self.database.on_change(changes.CHANNEL, self.routes.invalidate)
        self.platform = Platform.from_settings(self.settings)
        self.metrics = Metrics()
        self.metrics.watch(self)
        self.key_ring = KeyRing(self.database)
        self.releases = ReleaseStore(self.settings.data_dir / "releases")
        self.capacity = Capacity.of_host(self.settings)
        self.databases = DatabaseHost(self.settings.data_dir / "databases",
                                      self.settings.postgres_admin_url,
                                      prefix=self.settings.database_name_prefix,
                                      own_url=self.settings.sqlalchemy_url,
                                      shared_server=self.settings.postgres_shared_server)
        self.assets = AssetStore(self.settings.data_dir / "assets" / "branding",
                                 self.settings.api_url)
        self.token_authenticator = TokenAuthenticator(self.database, self.key_ring, self.clock,
                                                      issuer=self.settings.api_url)
        self.verify_limiter = RateLimiter(
            self.clock, limit=self.settings.domain_verify_per_hour, window=timedelta(hours=1),
            what="domain verifications")
        if self.resolver is None:
            self.resolver = DnsResolver(self.settings.nameservers)
        if self.driver is None:
            self.driver = LocalDriver(
                self.settings.data_dir / "sandboxes", isolation=self.settings.sandbox_isolation,
                uids=UidRange(self.settings.sandbox_uid_base, self.settings.sandbox_uid_count),
                desktops=self.settings.computer_desktops,
            )

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None) -> Container:
        database = Database(settings.sqlalchemy_url, pool_size=settings.database_pool_size)
        return cls(settings=settings, database=database, clock=clock or SystemClock())

    @property
    def driver_shares(self) -> DriverShares:
        """How many compute-driver calls (commands, file transfers) run at once in this process,
        in all and per organization; made on first use, inside the event loop."""
        if self._driver_shares is None:
            self._driver_shares = DriverShares(
                total=self.settings.driver_concurrency,
                per_organization=self.settings.driver_concurrency_per_organization,
                wait_seconds=self.settings.driver_queue_seconds)
        return self._driver_shares

    def start(self) -> None:
        """Start what a serving process needs beside requests: on PostgreSQL, the listener that
        hears key and route changes made by other processes. Safe to call more than once."""
        if self._listener is None and not self.database.is_sqlite:
            self._listener = ChangeListener(self.database.url, {
                keys_cache.CHANNEL: self.key_cache, changes.CHANNEL: self.routes})
            self._listener.start()

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        self.database.dispose()
