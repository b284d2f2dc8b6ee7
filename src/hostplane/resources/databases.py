"""Databases (spec §2 "Databases: form submissions"; contract §9). Until the compute driver runs
database engines, a database is recorded with a truthful state and status_reason."""

from __future__ import annotations

from hostplane.db.helpers import Page
from hostplane.db.scope import Scope
from hostplane.resources.common import ResourceFilters, get_resource, list_resources, owned, rename
from hostplane.resources.database_schemas import DatabaseCreate, DatabaseUpdate
from hostplane.resources.env import Env
from hostplane.resources.models import Database

WHAT = "database"


def create_database(scope: Scope, body: DatabaseCreate, env: Env) -> Database:
    _, columns = owned(scope, body)
    database = Database(
        **columns, name=body.name or f"{body.engine}-database", engine=body.engine,
        engine_version=body.engine_version or body.version, cpu_count=body.cpu_count,
        memory_mb=body.memory_mb, storage_mb=body.storage_mb, region=body.region,
        meta=body.metadata or {}, state="stopped",
        status_reason=f"The {env.driver.name} compute driver does not run {body.engine} "
                      "databases yet; the record is kept and starts once an engine is configured.",
    )
    scope.add(database)
    scope.session.flush()
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
    database.destroyed_at, database.state = env.now, "deleted"
    scope.session.flush()
    return database
