"""The schema comes from Alembic migrations, and the models agree with them."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from hostplane.db.migrate import alembic_config, current_revision, upgrade
from hostplane.db.models import Base


def test_models_and_migrations_agree(container):
    with container.database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models differ from migrations: {diff}"


def test_head_is_applied_and_upgrade_is_repeatable(container):
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(container.database)).get_current_head()
    assert current_revision(container.database) == head
    upgrade(container.database)
    assert current_revision(container.database) == head


def test_every_tenant_owned_table_has_tenant_id(container):
    inspector = inspect(container.database.engine)
    for table in ("api_keys", "workspaces", "projects", "idempotency_records"):
        columns = {c["name"] for c in inspector.get_columns(table)}
        assert "tenant_id" in columns, table


def test_the_name_index_exists(container):
    from sqlalchemy import text

    query = ("SELECT name FROM sqlite_master WHERE type = 'index' AND name = :n"
             if container.database.is_sqlite else
             "SELECT indexname FROM pg_indexes WHERE indexname = :n")
    with container.database.engine.connect() as conn:
        assert conn.execute(text(query), {"n": "ix_workspaces_tenant_id_name_key"}).scalar()
