"""Databases that exist: the engine password of each one (shown only by GET …/credentials).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28 09:24:02.822972
"""

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('databases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret', sa.String(length=200), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('databases', schema=None) as batch_op:
        batch_op.drop_column('secret')

