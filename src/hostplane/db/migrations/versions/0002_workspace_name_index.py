"""Index workspaces by lower-cased name within the organization (WORKSPACE_NAME_EXISTS check).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 04:25:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_workspaces_tenant_id_lower_name",
        "workspaces",
        ["tenant_id", sa.text("lower(name)")],
    )


def downgrade() -> None:
    op.drop_index("ix_workspaces_tenant_id_lower_name", table_name="workspaces")
