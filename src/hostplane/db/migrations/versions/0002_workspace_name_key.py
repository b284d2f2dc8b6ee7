"""Workspaces get name_key (the case-folded name) and an index on it, for WORKSPACE_NAME_EXISTS.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 05:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(sa.Column("name_key", sa.String(length=600), nullable=True))
    # lower() approximates casefold() for rows written before this column existed.
    op.execute("UPDATE workspaces SET name_key = lower(name)")
    with op.batch_alter_table("workspaces") as batch:
        batch.alter_column("name_key", existing_type=sa.String(length=600), nullable=False)
        batch.create_index("ix_workspaces_tenant_id_name_key", ["tenant_id", "name_key"])


def downgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_index("ix_workspaces_tenant_id_name_key")
        batch.drop_column("name_key")
