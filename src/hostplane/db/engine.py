"""Engine and session factory for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from hostplane.db.scope import install_tenant_guard


class Database:
    """One engine and the sessions made from it. Built by the composition root, never at import."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine = _make_engine(url, pool_size=pool_size, echo=echo, sqlite=self.is_sqlite)
        # Writes on SQLite take the write lock up front (BEGIN IMMEDIATE): a deferred transaction
        # that upgrades from read to write fails at once under concurrency instead of waiting.
        writer_bind = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._reads = sessionmaker(self.engine, expire_on_commit=False)
        self._writes = sessionmaker(writer_bind, expire_on_commit=False)
        install_tenant_guard(self._reads)
        install_tenant_guard(self._writes)

    def session(self, *, write: bool = True) -> Session:
        """A new session; `write=False` lets SQLite readers run beside a writer."""
        return (self._writes if write else self._reads)()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error."""
        session = self.session(write=write)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def _make_engine(url: str, *, pool_size: int, echo: bool, sqlite: bool) -> Engine:
    if not sqlite:
        return create_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, echo=echo
        )
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine
