"""Databases (spec §2 "Databases: form submissions"; contract §9): each one really exists on an
engine the operator configured (`Env.databases`); its credentials are shown only by
`credentials`."""

from __future__ import annotations

from hostplane import errors
from hostplane.compute.databases import Credentials
from hostplane.db.base import new_id
from hostplane.db.helpers import Page, after_commit, on_rollback
from hostplane.db.scope import Scope
from hostplane.resources.common import ResourceFilters, get_resource, list_resources, owned, rename
from hostplane.resources.database_schemas import DatabaseCreate, DatabaseUpdate
from hostplane.resources.env import Env
from hostplane.resources.models import Database

WHAT = "database"


def create_database(scope: Scope, body: DatabaseCreate, env: Env) -> Database:
    engine = body.engine or env.databases.default_engine()
    env.databases.check_engine(engine)
    for field in ("cpu_count", "memory_mb", "storage_mb"):
        env.capacity.check(field, getattr(body, field))
    _, columns = owned(scope, body)
    database = Database(
        **columns, id=new_id(), name=body.name or f"{engine}-database", engine=engine,
        engine_version=body.engine_version or body.version, cpu_count=body.cpu_count,
        memory_mb=body.memory_mb, storage_mb=body.storage_mb, region=body.region,
        meta=body.metadata or {}, state="running", started_at=env.now)
    # Made before the row: if the row never lands (or the making fails half-way), nothing is
    # left on the engine.
    on_rollback(scope.session, lambda: env.databases.drop(database.id, engine))
    credentials = env.databases.create(database.id, engine)
    database.secret = credentials.password
    scope.add(database)
    scope.session.flush()
    return database


def credentials(scope: Scope, database_id: str, env: Env) -> Credentials:
    database = _live(scope, database_id)
    return env.databases.credentials(database.id, database.engine, database.secret)


def stop_database(scope: Scope, database_id: str, env: Env) -> Database:
    database = _live(scope, database_id)
    if database.state != "stopped":
        env.databases.stop(database.id, database.engine)
        database.state, database.status_reason = "stopped", "stopped by request"
        scope.session.flush()
    return database


def start_database(scope: Scope, database_id: str, env: Env) -> Database:
    database = _live(scope, database_id)
    if database.state != "running":
        env.databases.start(database.id, database.engine)
        database.state, database.status_reason = "running", None
        database.started_at = database.started_at or env.now
        scope.session.flush()
    return database


def _live(scope: Scope, database_id: str) -> Database:
    database = get_resource(scope, Database, database_id, WHAT)
    if database.destroyed_at is not None:
        raise errors.Conflict(f"Database {database_id!r} is deleted.", code="DATABASE_DELETED",
                              fix="Create a new database.")
    return database


def get_database(scope: Scope, database_id: str) -> Database:
    return get_resource(scope, Database, database_id, WHAT)


def list_databases(scope: Scope, filters: ResourceFilters, *, limit: int, cursor: str | None,
                   offset: int) -> Page[Database]:
    return list_resources(scope, Database, filters, limit=limit, cursor=cursor, offset=offset)


def update_database(scope: Scope, database_id: str, body: DatabaseUpdate) -> Database:
    database = get_resource(scope, Database, database_id, WHAT)
    rename(scope, database, body.name, body.metadata)
    return database


def delete_database(scope: Scope, database_id: str, env: Env) -> Database:
    database = get_resource(scope, Database, database_id, WHAT)
    drop_on_commit(scope, env, database.id, database.engine)
    database.destroyed_at, database.state, database.secret = env.now, "deleted", None
    scope.session.flush()
    return database


def drop_on_commit(scope: Scope, env: Env, database_id: str, engine: str) -> None:
    """Lock the database now (no logins, connections ended; 503 if its server is down, and
    nothing is deleted) and drop it, role and all, once the transaction has committed (one that
    rolls back keeps its data)."""
    env.databases.stop(database_id, engine)
    after_commit(scope.session, lambda: env.databases.drop(database_id, engine))
