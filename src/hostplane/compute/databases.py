"""Databases that exist (issue "Local compute driver", spec §2 "Databases: form submissions"):
`postgresql` as a database and role of its own on the operator's PostgreSQL
(HOSTPLANE_POSTGRES_ADMIN_URL), `sqlite` as a file under the data dir. Remote engines plug in
behind the same methods."""

from __future__ import annotations

import logging
import re
import secrets
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from hostplane import errors

POSTGRESQL, SQLITE = "postgresql", "sqlite"
_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_LOOPBACK = ("localhost", "127.0.0.1", "::1")
CONNECTION_LIMIT = 20  # per database role: one organization can't take the server's connections
log = logging.getLogger("hostplane.databases")


@dataclass(frozen=True)
class Credentials:
    engine: str
    url: str
    host: str | None
    port: int | None
    database: str
    username: str | None
    password: str | None


class DatabaseHost:
    def __init__(self, root: Path, admin_url: str | None, *, prefix: str = "hp_",
                 own_url: str | None = None, shared_server: bool = False) -> None:
        """`own_url`: hostplane's own database, locked too when it lives on the same server;
        `shared_server`: leave every database but the organizations' own alone."""
        self.root, self.prefix = Path(root).absolute(), prefix
        self.admin = make_url(admin_url).set(drivername="postgresql") if admin_url else None
        self.own = make_url(own_url) if own_url else None
        self.shared_server = shared_server
        self._server_locked = False

    def engines(self) -> tuple[str, ...]:
        return ((POSTGRESQL,) if self.admin is not None else ()) + (SQLITE,)

    def default_engine(self) -> str:
        return self.engines()[0]

    def check_engine(self, engine: str, field: str = "engine") -> None:
        if engine not in self.engines():
            raise errors.Invalid(
                f"The {engine!r} engine is not available on this hostplane.",
                code="ENGINE_NOT_AVAILABLE", field=field,
                rule=f"one of the configured engines: {', '.join(self.engines())}",
                fix=f"Use {self.default_engine()!r}"
                    + ("; an operator enables postgresql with HOSTPLANE_POSTGRES_ADMIN_URL."
                       if POSTGRESQL not in self.engines() else "."),
                details={"available": list(self.engines())})

    # Lifecycle: every method is idempotent for the same database id.

    def create(self, database_id: str, engine: str) -> Credentials:
        """Make the database; answers its credentials (the password is made here, once)."""
        self.check_engine(engine)
        if engine == SQLITE:
            path = self._file(database_id)
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with closing(sqlite3.connect(path)):
                pass
            path.chmod(0o600)
            return self.credentials(database_id, engine, None)
        password = secrets.token_urlsafe(24)
        name = self._name(database_id)
        with self._admin() as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {} CONNECTION LIMIT {}").format(
                sql.Identifier(name), sql.Literal(password), sql.Literal(CONNECTION_LIMIT)))
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (name,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(name)))
            # Only its own role (and the operator) may connect to it.
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(
                sql.Identifier(name)))
            if not self._server_locked:
                self._lock_server(conn)
        return self.credentials(database_id, engine, password)

    def _lock_server(self, conn: psycopg.Connection) -> None:
        """Every role may connect to every database by default (PUBLIC holds CONNECT), so an
        organization's role could reach the server's own databases and read every other
        organization's database and role names there. Take CONNECT from PUBLIC on the server's
        maintenance databases and on hostplane's own; name the rest in the log (on a shared
        server, only the operator may decide about those: docs/operators.md)."""
        mine = self._own_database()
        wanted = set() if self.shared_server else {"postgres", "template1"} | (
            {mine[0]} if mine else set())
        exposed = [row[0] for row in conn.execute(
            "SELECT datname FROM pg_database WHERE datallowconn "
            "AND has_database_privilege('public', datname, 'CONNECT') ORDER BY datname")]
        left = []
        for database in exposed:
            if database not in wanted:
                left.append(database)
                continue
            try:
                if mine and database == mine[0] and mine[1]:  # hostplane keeps its own way in
                    conn.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
                        sql.Identifier(database), sql.Identifier(mine[1])))
                conn.execute(sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC")
                             .format(sql.Identifier(database)))
            except psycopg.Error as exc:
                log.warning("could not take CONNECT on database %s from PUBLIC: %s", database,
                            exc)
                left.append(database)
        if left:
            log.warning("organizations' database roles can connect to these databases of the "
                        "server, as every role can (PUBLIC holds CONNECT): %s; see 'Databases on "
                        "a shared server' in the operator guide", ", ".join(left))
        self._server_locked = True

    def _own_database(self) -> tuple[str, str | None] | None:
        """hostplane's own database and role, when they are on the organizations' server."""
        if self.own is None or self.admin is None or not self.own.drivername.startswith(
                "postgresql") or not self.own.database:
            return None
        def server(url: URL) -> tuple[str, int]:
            host = url.host or "localhost"
            return ("localhost" if host in _LOOPBACK else host), url.port or 5432

        same = server(self.own) == server(self.admin)
        return (self.own.database, self.own.username) if same else None

    def credentials(self, database_id: str, engine: str, password: str | None) -> Credentials:
        if engine == SQLITE:
            path = self._file(database_id)
            return Credentials(SQLITE, f"sqlite:///{path}", None, None, str(path), None, None)
        assert self.admin is not None
        name = self._name(database_id)
        host, port = self.admin.host or "127.0.0.1", self.admin.port or 5432
        url = (f"postgresql://{name}:{quote(password or '', safe='')}@{host}:{port}/{name}")
        return Credentials(POSTGRESQL, url, host, port, name, name, password)

    def stop(self, database_id: str, engine: str) -> None:
        """No new connections, and the open ones end (postgresql; a sqlite file is opened by
        whoever holds its path, so stopping it changes only its state)."""
        if engine == POSTGRESQL and self.admin is not None:
            name = self._name(database_id)
            with self._admin() as conn:
                if self._role_exists(conn, name):
                    conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(name)))
                self._disconnect(conn, name)

    def start(self, database_id: str, engine: str) -> None:
        if engine == POSTGRESQL and self.admin is not None:
            name = self._name(database_id)
            with self._admin() as conn:
                if not self._role_exists(conn, name):
                    raise errors.Conflict("The database is gone from its server.",
                                          code="DATABASE_DELETED", fix="Create a new database.")
                conn.execute(sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(name)))

    def drop(self, database_id: str, engine: str) -> None:
        """Remove the database and everything in it (a no-op when it is already gone)."""
        if engine == SQLITE:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self._file(database_id)}{suffix}").unlink(missing_ok=True)
            return
        if self.admin is None:
            return
        self.stop(database_id, engine)
        name = self._name(database_id)
        with self._admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))

    def exists(self, database_id: str, engine: str) -> bool:
        if engine == SQLITE:
            return self._file(database_id).is_file()
        if self.admin is None:
            return False
        with self._admin() as conn:
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                (self._name(database_id),)).fetchone() is not None

    # Helpers

    def _name(self, database_id: str) -> str:
        if not _ID.match(database_id):
            raise ValueError(f"not a database id: {database_id!r}")
        return (self.prefix + database_id.replace("-", "")).lower()[:63]

    def _file(self, database_id: str) -> Path:
        return self.root / f"{self._name(database_id)}.sqlite3"

    def _admin(self) -> psycopg.Connection:
        assert self.admin is not None
        try:
            return psycopg.connect(
                host=self.admin.host, port=self.admin.port, user=self.admin.username,
                password=self.admin.password, dbname=self.admin.database or "postgres",
                autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            log.error("the database server for postgresql databases is unreachable: %s", exc)
            raise EngineUnavailable() from None

    @staticmethod
    def _role_exists(conn: psycopg.Connection, name: str) -> bool:
        return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                            (name,)).fetchone() is not None

    @staticmethod
    def _disconnect(conn: psycopg.Connection, name: str) -> None:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))


class EngineUnavailable(errors.Unavailable):
    """The engine's server can't be reached (the details are in the server's log, not here)."""

    code = "ENGINE_UNAVAILABLE"

    def __init__(self) -> None:
        super().__init__("The database server is unreachable right now.",
                         fix="Retry in a moment; if it persists, the operator's database server "
                             "is down.")
