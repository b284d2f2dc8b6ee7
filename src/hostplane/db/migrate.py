"""Apply Alembic migrations: on start, and by `hostplane db upgrade`."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from hostplane.db.engine import Database

# A fixed key for pg_advisory_lock so API processes starting together migrate one at a time.
_PG_MIGRATION_LOCK = 727_274_001


def alembic_config(database: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", "hostplane:db/migrations")
    config.attributes["engine"] = database.engine
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema to `revision` (latest by default). Safe to run from several processes."""
    config = alembic_config(database)
    if database.is_sqlite:
        command.upgrade(config, revision)
        return
    with database.engine.connect() as lock_conn:
        lock_conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        try:
            command.upgrade(config, revision)
        finally:
            lock_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
            lock_conn.commit()


def current_revision(database: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def pending_migrations(database: Database) -> list[str]:
    """Revisions the database has not applied yet (empty: its schema is current). Raises if the
    database does not answer."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(database))
    current = current_revision(database)
    return [rev.revision for rev in script.iterate_revisions("heads", current)
            if rev.revision != current]
