"""Browser tokens: signing keys, the tokens issued, and per-user revocations.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 08:17:51.608137
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import hostplane.db.base

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('signing_keys',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('algorithm', sa.String(length=16), nullable=False),
    sa.Column('private_key', sa.Text(), nullable=False),
    sa.Column('public_jwk', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', hostplane.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired_at', hostplane.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', hostplane.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signing_keys'))
    )
    active = sa.text("status = 'active'")
    op.create_index('uq_signing_keys_active', 'signing_keys', ['status'], unique=True,
                    sqlite_where=active, postgresql_where=active)
    op.create_table('browser_tokens',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key_id', sa.String(length=36), nullable=False),
    sa.Column('issued_by', sa.String(length=36), nullable=False),
    sa.Column('external_user_id', sa.String(length=200), nullable=True),
    sa.Column('workspace_id', sa.String(length=36), nullable=True),
    sa.Column('project_id', sa.String(length=36), nullable=True),
    sa.Column('external_workspace_id', sa.String(length=200), nullable=True),
    sa.Column('permissions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('sandbox_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('ports', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', hostplane.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', hostplane.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', hostplane.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_browser_tokens_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_browser_tokens'))
    )
    with op.batch_alter_table('browser_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_browser_tokens_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_browser_tokens_tenant_id_created_at', ['tenant_id', 'created_at'], unique=False)
        batch_op.create_index('ix_browser_tokens_tenant_id_external_user_id', ['tenant_id', 'external_user_id'], unique=False)

    op.create_table('token_user_revocations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('external_user_id', sa.String(length=200), nullable=False),
    sa.Column('revoked_before', hostplane.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_token_user_revocations_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_token_user_revocations')),
    sa.UniqueConstraint('tenant_id', 'external_user_id', name=op.f('uq_token_user_revocations_tenant_id_external_user_id'))
    )
    with op.batch_alter_table('token_user_revocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_token_user_revocations_tenant_id'), ['tenant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('token_user_revocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_token_user_revocations_tenant_id'))

    op.drop_table('token_user_revocations')
    with op.batch_alter_table('browser_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_browser_tokens_tenant_id_external_user_id')
        batch_op.drop_index('ix_browser_tokens_tenant_id_created_at')
        batch_op.drop_index(batch_op.f('ix_browser_tokens_tenant_id'))

    op.drop_table('browser_tokens')
    op.drop_index('uq_signing_keys_active', 'signing_keys')
    op.drop_table('signing_keys')
