"""Deployments that publish: immutable, content-addressed versions, and the active one.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-28 09:32:07.378879
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import hostplane.db.base

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('deployment_versions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('deployment_id', sa.String(length=36), nullable=False),
    sa.Column('version_number', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=80), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=True),
    sa.Column('artifact_manifest', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('total_bytes', sa.Integer(), nullable=False),
    sa.Column('entrypoint', sa.String(length=500), nullable=True),
    sa.Column('failure_reason', sa.String(length=500), nullable=True),
    sa.Column('metadata', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', hostplane.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.id'], name=op.f('fk_deployment_versions_deployment_id_deployments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_deployment_versions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployment_versions')),
    sa.UniqueConstraint('deployment_id', 'version_number', name=op.f('uq_deployment_versions_deployment_id_version_number'))
    )
    with op.batch_alter_table('deployment_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deployment_versions_deployment_id'), ['deployment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deployment_versions_tenant_id'), ['tenant_id'], unique=False)

    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active_version_id', sa.String(length=36), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.drop_column('active_version_id')

    with op.batch_alter_table('deployment_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deployment_versions_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_deployment_versions_deployment_id'))

    op.drop_table('deployment_versions')
