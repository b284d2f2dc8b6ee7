"""Look up claims on one name across organizations by index.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 08:05:00
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("custom_domains") as batch:
        batch.create_index("ix_custom_domains_domain", ["domain"])


def downgrade() -> None:
    with op.batch_alter_table("custom_domains") as batch:
        batch.drop_index("ix_custom_domains_domain")
