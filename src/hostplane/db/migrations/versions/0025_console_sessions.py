"""The web console's sessions: a token hash and the API key it stands for, with its expiry.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03 18:50:00
"""

import sqlalchemy as sa
from alembic import op

import hostplane.db.base

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

MOMENT = hostplane.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'console_sessions',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('key_id', sa.String(length=36), nullable=False),
        sa.Column('created_at', MOMENT, nullable=False),
        sa.Column('last_seen_at', MOMENT, nullable=False),
        sa.Column('expires_at', MOMENT, nullable=False),
        sa.Column('ended_at', MOMENT, nullable=True),
        sa.Column('tenant_id', sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(['key_id'], ['api_keys.id'],
                                name=op.f('fk_console_sessions_key_id_api_keys'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_console_sessions_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_console_sessions')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_console_sessions_token_hash')),
    )
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_sessions_tenant_id'), ['tenant_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_console_sessions_key_id'), ['key_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_sessions_key_id'))
        batch_op.drop_index(batch_op.f('ix_console_sessions_tenant_id'))
    op.drop_table('console_sessions')
