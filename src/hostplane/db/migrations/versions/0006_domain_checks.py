"""Organization domains remember their last DNS check and when the next one is due.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 07:00:00
"""

import sqlalchemy as sa
from alembic import op

from hostplane.db.base import JSONType, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenant_domains") as batch:
        batch.add_column(sa.Column("checks", JSONType, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("next_check_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenant_domains") as batch:
        batch.drop_column("next_check_at")
        batch.drop_column("checks")
