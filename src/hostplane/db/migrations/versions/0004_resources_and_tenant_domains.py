"""Resources (sandboxes and previews, databases, deployments, computers), the organization's
preview and deployment domain records, and a project's production deployment.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 05:49:41.536694
"""

import sqlalchemy as sa
from alembic import op

from hostplane.db.base import JSONType, UTCDateTime

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tenant_domains',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('verified_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_checked_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('failure_reason', sa.String(length=500), nullable=True),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_tenant_domains_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenant_domains')),
    sa.UniqueConstraint('tenant_id', 'kind', name=op.f('uq_tenant_domains_tenant_id_kind'))
    )
    with op.batch_alter_table('tenant_domains', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tenant_domains_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('computers',
    sa.Column('slug', sa.String(length=63), nullable=False),
    sa.Column('template_type', sa.String(length=200), nullable=False),
    sa.Column('size', sa.String(length=8), nullable=False),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('metadata', JSONType, nullable=False),
    sa.Column('external_workspace_id', sa.String(length=200), nullable=True),
    sa.Column('external_project_id', sa.String(length=200), nullable=True),
    sa.Column('external_user_id', sa.String(length=200), nullable=True),
    sa.Column('started_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('destroyed_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('workspace_id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_computers_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_computers_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_computers_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_computers')),
    sa.UniqueConstraint('slug', name=op.f('uq_computers_slug'))
    )
    with op.batch_alter_table('computers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_computers_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_computers_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_computers_tenant_id_created_at', ['tenant_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_computers_tenant_id_external_user_id', ['tenant_id', 'external_user_id'], unique=False)
        batch_op.create_index('ix_computers_tenant_id_workspace_id', ['tenant_id', 'workspace_id'], unique=False)

    op.create_table('databases',
    sa.Column('engine', sa.String(length=32), nullable=False),
    sa.Column('engine_version', sa.String(length=32), nullable=True),
    sa.Column('cpu_count', sa.Integer(), nullable=True),
    sa.Column('memory_mb', sa.Integer(), nullable=True),
    sa.Column('storage_mb', sa.Integer(), nullable=True),
    sa.Column('region', sa.String(length=64), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('metadata', JSONType, nullable=False),
    sa.Column('external_workspace_id', sa.String(length=200), nullable=True),
    sa.Column('external_project_id', sa.String(length=200), nullable=True),
    sa.Column('external_user_id', sa.String(length=200), nullable=True),
    sa.Column('started_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('destroyed_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('workspace_id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_databases_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_databases_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_databases_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_databases'))
    )
    with op.batch_alter_table('databases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_databases_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_databases_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_databases_tenant_id_created_at', ['tenant_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_databases_tenant_id_external_user_id', ['tenant_id', 'external_user_id'], unique=False)
        batch_op.create_index('ix_databases_tenant_id_workspace_id', ['tenant_id', 'workspace_id'], unique=False)

    op.create_table('deployments',
    sa.Column('slug', sa.String(length=63), nullable=False),
    sa.Column('source_type', sa.String(length=16), nullable=True),
    sa.Column('repo_url', sa.String(length=2000), nullable=True),
    sa.Column('branch', sa.String(length=200), nullable=True),
    sa.Column('build_command', sa.String(length=2000), nullable=True),
    sa.Column('run_command', sa.String(length=2000), nullable=True),
    sa.Column('auto_deploy', sa.Boolean(), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('metadata', JSONType, nullable=False),
    sa.Column('external_workspace_id', sa.String(length=200), nullable=True),
    sa.Column('external_project_id', sa.String(length=200), nullable=True),
    sa.Column('external_user_id', sa.String(length=200), nullable=True),
    sa.Column('started_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('destroyed_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('workspace_id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_deployments_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_deployments_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_deployments_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployments'))
    )
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deployments_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deployments_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_deployments_tenant_id_created_at', ['tenant_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_deployments_tenant_id_external_user_id', ['tenant_id', 'external_user_id'], unique=False)
        batch_op.create_index('ix_deployments_tenant_id_workspace_id', ['tenant_id', 'workspace_id'], unique=False)
        batch_op.create_index('uq_deployments_tenant_id_slug_live', ['tenant_id', 'slug'], unique=True, sqlite_where=sa.text('destroyed_at IS NULL'), postgresql_where=sa.text('destroyed_at IS NULL'))

    op.create_table('sandboxes',
    sa.Column('slug', sa.String(length=63), nullable=False),
    sa.Column('template_id', sa.String(length=200), nullable=False),
    sa.Column('size', sa.String(length=8), nullable=True),
    sa.Column('cpu_count', sa.Integer(), nullable=False),
    sa.Column('memory_mb', sa.Integer(), nullable=False),
    sa.Column('disk_mb', sa.Integer(), nullable=False),
    sa.Column('timeout_sec', sa.Integer(), nullable=True),
    sa.Column('idle_timeout_sec', sa.Integer(), nullable=True),
    sa.Column('persistent', sa.Boolean(), nullable=False),
    sa.Column('always_on', sa.Boolean(), nullable=False),
    sa.Column('env', JSONType, nullable=False),
    sa.Column('tags', JSONType, nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('metadata', JSONType, nullable=False),
    sa.Column('external_workspace_id', sa.String(length=200), nullable=True),
    sa.Column('external_project_id', sa.String(length=200), nullable=True),
    sa.Column('external_user_id', sa.String(length=200), nullable=True),
    sa.Column('started_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('destroyed_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('workspace_id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_sandboxes_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_sandboxes_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_sandboxes_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandboxes')),
    sa.UniqueConstraint('slug', name=op.f('uq_sandboxes_slug'))
    )
    with op.batch_alter_table('sandboxes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandboxes_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sandboxes_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_sandboxes_tenant_id_created_at', ['tenant_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_sandboxes_tenant_id_external_user_id', ['tenant_id', 'external_user_id'], unique=False)
        batch_op.create_index('ix_sandboxes_tenant_id_workspace_id', ['tenant_id', 'workspace_id'], unique=False)

    op.create_table('sandbox_previews',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('sandbox_id', sa.String(length=36), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['sandbox_id'], ['sandboxes.id'], name=op.f('fk_sandbox_previews_sandbox_id_sandboxes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_sandbox_previews_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_previews')),
    sa.UniqueConstraint('sandbox_id', 'port', name=op.f('uq_sandbox_previews_sandbox_id_port'))
    )
    with op.batch_alter_table('sandbox_previews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_previews_tenant_id'), ['tenant_id'], unique=False)

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('production_deployment_id', sa.String(length=36), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('production_deployment_id')

    with op.batch_alter_table('sandbox_previews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_previews_tenant_id'))

    op.drop_table('sandbox_previews')
    with op.batch_alter_table('sandboxes', schema=None) as batch_op:
        batch_op.drop_index('ix_sandboxes_tenant_id_workspace_id')
        batch_op.drop_index('ix_sandboxes_tenant_id_external_user_id')
        batch_op.drop_index('ix_sandboxes_tenant_id_created_at')
        batch_op.drop_index(batch_op.f('ix_sandboxes_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_sandboxes_project_id'))

    op.drop_table('sandboxes')
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.drop_index('uq_deployments_tenant_id_slug_live', sqlite_where=sa.text('destroyed_at IS NULL'), postgresql_where=sa.text('destroyed_at IS NULL'))
        batch_op.drop_index('ix_deployments_tenant_id_workspace_id')
        batch_op.drop_index('ix_deployments_tenant_id_external_user_id')
        batch_op.drop_index('ix_deployments_tenant_id_created_at')
        batch_op.drop_index(batch_op.f('ix_deployments_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_deployments_project_id'))

    op.drop_table('deployments')
    with op.batch_alter_table('databases', schema=None) as batch_op:
        batch_op.drop_index('ix_databases_tenant_id_workspace_id')
        batch_op.drop_index('ix_databases_tenant_id_external_user_id')
        batch_op.drop_index('ix_databases_tenant_id_created_at')
        batch_op.drop_index(batch_op.f('ix_databases_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_databases_project_id'))

    op.drop_table('databases')
    with op.batch_alter_table('computers', schema=None) as batch_op:
        batch_op.drop_index('ix_computers_tenant_id_workspace_id')
        batch_op.drop_index('ix_computers_tenant_id_external_user_id')
        batch_op.drop_index('ix_computers_tenant_id_created_at')
        batch_op.drop_index(batch_op.f('ix_computers_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_computers_project_id'))

    op.drop_table('computers')
    with op.batch_alter_table('tenant_domains', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tenant_domains_tenant_id'))

    op.drop_table('tenant_domains')
