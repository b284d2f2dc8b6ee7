"""Exact custom domains attached to deployments, computers and projects (tombstones kept).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 06:59:30.037905
"""

import sqlalchemy as sa
from alembic import op

from hostplane.db.base import JSONType, UTCDateTime

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('custom_domains',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('target_type', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('redirect_policy', sa.String(length=16), nullable=False),
    sa.Column('external_workspace_id', sa.String(length=200), nullable=True),
    sa.Column('external_project_id', sa.String(length=200), nullable=True),
    sa.Column('external_user_id', sa.String(length=200), nullable=True),
    sa.Column('verified_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_checked_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_check_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('removed_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('failure_reason', sa.String(length=500), nullable=True),
    sa.Column('checks', JSONType, nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_custom_domains_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custom_domains'))
    )
    with op.batch_alter_table('custom_domains', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_custom_domains_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_custom_domains_tenant_id_target', ['tenant_id', 'target_type', 'target_id'], unique=False)
        batch_op.create_index('uq_custom_domains_domain_live', ['domain'], unique=True, sqlite_where=sa.text("status != 'removed'"), postgresql_where=sa.text("status != 'removed'"))



def downgrade() -> None:
    with op.batch_alter_table('custom_domains', schema=None) as batch_op:
        batch_op.drop_index('uq_custom_domains_domain_live', sqlite_where=sa.text("status != 'removed'"), postgresql_where=sa.text("status != 'removed'"))
        batch_op.drop_index('ix_custom_domains_tenant_id_target')
        batch_op.drop_index(batch_op.f('ix_custom_domains_tenant_id'))

    op.drop_table('custom_domains')
