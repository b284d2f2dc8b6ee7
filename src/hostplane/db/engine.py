"""Engine and session factory for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from hostplane.db.scope import install_tenant_guard


class Database:
    """One engine and the sessions made from it. Built by the composition root, never at import.

    Write sessions run in a transaction. Read sessions autocommit each statement: a GET then needs
    no BEGIN/COMMIT round trips, and a reader never holds a lock.
    """

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine = _make_engine(url, pool_size=pool_size, echo=echo, sqlite=self.is_sqlite)
        if self.is_sqlite:
            # SQLite has one writer at a time. Writers of this process queue on a Python lock
            # (woken at once) instead of SQLite's sleep-and-retry busy handler, and then take the
            # write lock up front (BEGIN IMMEDIATE) so a transaction never fails half-way.
            writer_bind = self.engine.execution_options(sqlite_begin="IMMEDIATE")
            reader_bind = self.engine.execution_options(sqlite_begin=None)
        else:
            writer_bind = self.engine
            reader_bind = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._reads = sessionmaker(reader_bind, expire_on_commit=False)
        self._writes = sessionmaker(writer_bind, expire_on_commit=False)
        # Called, per channel, with each payload announced (db/notify.announce) by a transaction
        # that committed: a key hash on the keys channel, "*" on the routes channel, ...
        self.change_listeners: dict[str, list[Callable[[str], None]]] = {}
        for factory in (self._reads, self._writes):
            install_tenant_guard(factory)
            event.listen(factory, "after_commit", self._after_commit)
            event.listen(factory, "after_soft_rollback", _forget_changes)

    @property
    def session_factories(self) -> tuple[sessionmaker[Session], ...]:
        """The reader and writer session factories, for installing session events."""
        return (self._reads, self._writes)

    def session(self, *, write: bool = True) -> Session:
        """A new session; `write=False` gives an autocommitting reader."""
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

    def on_change(self, channel: str, listener: Callable[[str], None]) -> None:
        """Call `listener(payload)` for each change announced on `channel`, once it commits."""
        self.change_listeners.setdefault(channel, []).append(listener)

    def _after_commit(self, session: Session) -> None:
        for channel, payloads in session.info.pop("changes", {}).items():
            for payload in payloads:
                for listener in self.change_listeners.get(channel, ()):
                    listener(payload)


def _forget_changes(session: Session, previous: Any) -> None:
    if not previous.nested:  # a savepoint rolled back; the transaction's changes still stand
        session.info.pop("changes", None)


def _make_engine(url: str, *, pool_size: int, echo: bool, sqlite: bool) -> Engine:
    if not sqlite:
        # No pre-ping: it costs a round trip on every request. A connection that died (server
        # restart) fails one request and is replaced; pool_recycle retires idle ones first.
        return create_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800, echo=echo
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
    _serialize_sqlite_writers(engine)

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
        if mode is not None:  # None: a reader, every statement commits on its own
            connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _serialize_sqlite_writers(engine: Engine) -> None:
    # A plain Lock, not an RLock: a transaction may begin in one thread and commit in another.
    lock = threading.Lock()

    @event.listens_for(engine, "begin")
    def _acquire(connection):  # type: ignore[no-untyped-def]
        if connection.get_execution_options().get("sqlite_begin") == "IMMEDIATE":
            if not lock.acquire(timeout=30):
                raise TimeoutError("waited 30 s for the SQLite write lock")
            connection.info["holds_write_lock"] = True

    def _release(connection):  # type: ignore[no-untyped-def]
        if connection.info.pop("holds_write_lock", False):
            lock.release()

    def _release_record(_dbapi_connection, record, *_exception):  # type: ignore[no-untyped-def]
        # A connection invalidated, or returned to the pool, mid-transaction never sends
        # "rollback": release here, or every later write would wait for a lock nobody holds.
        if record.info.pop("holds_write_lock", False):
            lock.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)
    event.listen(engine, "invalidate", _release_record)
    event.listen(engine, "checkin", _release_record)


def database_unreachable(exc: BaseException) -> bool:
    """Whether an error means the database could not be reached or its connection died (a
    restart, a network cut, SQLite's lock wait running out), rather than a fault of the request:
    such a request can simply be retried."""
    from sqlalchemy.exc import DBAPIError, OperationalError, TimeoutError as PoolTimeout

    return isinstance(exc, (OperationalError, PoolTimeout)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)
