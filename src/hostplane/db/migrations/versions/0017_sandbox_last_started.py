"""Sandboxes that stop and start again: when the current run began (timeout_sec counts from it;
started_at stays the first start, which usage counts from).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-28 11:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sandboxes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_started_at', sa.DateTime(timezone=True),
                                      nullable=True))
    op.execute("UPDATE sandboxes SET last_started_at = started_at")


def downgrade() -> None:
    with op.batch_alter_table('sandboxes', schema=None) as batch_op:
        batch_op.drop_column('last_started_at')
