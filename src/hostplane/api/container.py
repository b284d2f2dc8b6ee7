"""What a running process is wired from: settings, the database and the clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from hostplane.clock import Clock, SystemClock
from hostplane.db.engine import Database
from hostplane.settings import Settings


@dataclass
class Container:
    settings: Settings
    database: Database
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None) -> Container:
        database = Database(settings.sqlalchemy_url, pool_size=settings.database_pool_size)
        return cls(settings=settings, database=database, clock=clock or SystemClock())
