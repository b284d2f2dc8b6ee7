"""An organization domain that is being replaced keeps serving until its replacement verifies:
the verified name it replaces is kept beside it (previous_domain), with its claim.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 14:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenant_domains', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_domain', sa.String(length=253), nullable=True))
        batch_op.create_index('ix_tenant_domains_previous_domain', ['kind', 'previous_domain'])


def downgrade() -> None:
    with op.batch_alter_table('tenant_domains', schema=None) as batch_op:
        batch_op.drop_index('ix_tenant_domains_previous_domain')
        batch_op.drop_column('previous_domain')
