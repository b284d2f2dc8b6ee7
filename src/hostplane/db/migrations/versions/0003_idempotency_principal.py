"""Idempotency records remember which credential made the first request.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 05:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_records") as batch:
        batch.add_column(sa.Column("principal_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_records") as batch:
        batch.drop_column("principal_id")
