"""The audit log: who changed what, when, under which request.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28 08:38:49.009645
"""

import sqlalchemy as sa
from alembic import op

import hostplane.db.base

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=36), nullable=False),
    sa.Column('external_user_id', sa.String(length=200), nullable=True),
    sa.Column('action', sa.String(length=80), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('route', sa.String(length=200), nullable=False),
    sa.Column('resource_type', sa.String(length=40), nullable=False),
    sa.Column('resource_id', sa.String(length=200), nullable=True),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=140), nullable=False),
    sa.Column('created_at', hostplane.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_audit_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_audit_events_tenant_id_actor_id', ['tenant_id', 'actor_id'], unique=False)
        batch_op.create_index('ix_audit_events_tenant_id_created_at', ['tenant_id', 'created_at'], unique=False)
        batch_op.create_index('ix_audit_events_tenant_id_resource', ['tenant_id', 'resource_type', 'resource_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_tenant_id_resource')
        batch_op.drop_index('ix_audit_events_tenant_id_created_at')
        batch_op.drop_index('ix_audit_events_tenant_id_actor_id')
        batch_op.drop_index(batch_op.f('ix_audit_events_tenant_id'))

    op.drop_table('audit_events')
