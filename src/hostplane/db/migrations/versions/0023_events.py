"""The event log (an outbox): one row per state change, numbered in commit order.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 16:10:00
"""

import sqlalchemy as sa
from alembic import op

import hostplane.db.base

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'events',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True,
                  autoincrement=True),
        sa.Column('type', sa.String(length=64), nullable=False),
        sa.Column('object_type', sa.String(length=32), nullable=False),
        sa.Column('object_id', sa.String(length=200), nullable=False),
        sa.Column('workspace_id', sa.String(length=36), nullable=True),
        sa.Column('project_id', sa.String(length=36), nullable=True),
        sa.Column('external_workspace_id', sa.String(length=200), nullable=True),
        sa.Column('external_project_id', sa.String(length=200), nullable=True),
        sa.Column('data', sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), 'postgresql'),
                  nullable=False),
        sa.Column('created_at', hostplane.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('tenant_id', sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    )
    op.create_index('ix_events_tenant_id', 'events', ['tenant_id'])
    op.create_index('ix_events_tenant_id_id', 'events', ['tenant_id', 'id'])


def downgrade() -> None:
    op.drop_table('events')
