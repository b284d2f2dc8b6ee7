"""A domain nobody else has touched verifies by its routing records alone: whether it still needs
the TXT ownership record is kept per domain (ownership_required), and a claim says how it was
proven (proof), so a TXT-proven claim can take a name from a routing-only one.

Revision ID: 0022
Revises: 0019
Create Date: 2026-12-03 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('custom_domains', 'tenant_domains'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('ownership_required', sa.Boolean(), nullable=False,
                                          server_default=sa.true()))
    with op.batch_alter_table('domain_claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proof', sa.String(length=16), nullable=False,
                                      server_default='ownership'))
    with op.batch_alter_table('domain_events', schema=None) as batch_op:
        batch_op.create_index('ix_domain_events_domain', ['domain'])


def downgrade() -> None:
    with op.batch_alter_table('domain_events', schema=None) as batch_op:
        batch_op.drop_index('ix_domain_events_domain')
    with op.batch_alter_table('domain_claims', schema=None) as batch_op:
        batch_op.drop_column('proof')
    for table in ('tenant_domains', 'custom_domains'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('ownership_required')
