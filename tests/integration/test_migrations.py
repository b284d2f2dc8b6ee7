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


def test_the_claims_backfill_keeps_the_oldest_proof(backend, tmp_path):
    """Migration 0011 on a database holding verified domains: every proven name becomes a claim;
    a later proof that clashes (the same name in another table, or a name under another
    organization's wildcard) is set misconfigured instead of being served twice."""
    from contextlib import ExitStack
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    from hostplane.db.engine import Database
    from hostplane.db.scratch import scratch_database
    from tests.conftest import _pg_admin_url

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with ExitStack() as stack:
        url = (f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else
               stack.enter_context(scratch_database(_pg_admin_url(), "hostplane_mig")))
        database = Database(url)
        stack.callback(database.dispose)
        upgrade(database, "0010")
        with database.engine.begin() as conn:
            for tid in ("a", "b", "c"):
                conn.execute(text(
                    "INSERT INTO tenants (id, name, slug, settings, created_at, updated_at) "
                    "VALUES (:id, :id, :id, '{}', :t, :t)"), {"id": tid, "t": t0})
            rows = [  # table, id, tenant, domain, verified_at
                ("tenant_domains", "td-a", "a", "example.com", t0),
                ("custom_domains", "cd-b", "b", "www.example.com", t0 + timedelta(days=1)),
                ("custom_domains", "cd-c", "c", "shop.other.com", t0 + timedelta(days=2)),
                ("tenant_domains", "td-b", "b", "shop.other.com", t0 + timedelta(days=3)),
            ]
            for table, row_id, tid, domain, at in rows:
                extra = ("kind, ", "'deployment', ") if table == "tenant_domains" else (
                    "target_type, target_id, redirect_policy, ", "'deployment', 'x', 'none', ")
                conn.execute(text(
                    f"INSERT INTO {table} (id, tenant_id, {extra[0]}domain, status, verified_at, "
                    f"checks, created_at, updated_at) VALUES (:id, :tid, {extra[1]}:domain, "
                    "'verified', :at, '[]', :at, :at)"),
                    {"id": row_id, "tid": tid, "domain": domain, "at": at})
        upgrade(database)
        with database.engine.connect() as conn:
            claims = dict(conn.execute(text("SELECT name, tenant_id FROM domain_claims")).all())
            statuses = dict(conn.execute(text(
                "SELECT id, status FROM tenant_domains UNION ALL "
                "SELECT id, status FROM custom_domains")).all())
    assert claims == {"example.com": "a", "shop.other.com": "c"}
    assert statuses == {"td-a": "verified", "cd-b": "misconfigured", "cd-c": "verified",
                        "td-b": "misconfigured"}
