"""The edge router: who may open a sandbox's previews (visibility), whether its upstream sees
`Host: localhost:{port}` (mask_request_host), and exact domains on a sandbox's preview port.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 13:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sandboxes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visibility', sa.String(length=16), nullable=False,
                                      server_default='public'))
        batch_op.add_column(sa.Column('mask_request_host', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
    with op.batch_alter_table('custom_domains', schema=None) as batch_op:
        batch_op.add_column(sa.Column('port', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('custom_domains', schema=None) as batch_op:
        batch_op.drop_column('port')
    with op.batch_alter_table('sandboxes', schema=None) as batch_op:
        batch_op.drop_column('mask_request_host')
        batch_op.drop_column('visibility')
