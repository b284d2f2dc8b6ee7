"""A verified organization domain belongs to one organization.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 06:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

VERIFIED = sa.text("status = 'verified'")


def upgrade() -> None:
    with op.batch_alter_table("tenant_domains") as batch:
        batch.create_index("uq_tenant_domains_kind_domain_verified", ["kind", "domain"],
                           unique=True, sqlite_where=VERIFIED, postgresql_where=VERIFIED)


def downgrade() -> None:
    with op.batch_alter_table("tenant_domains") as batch:
        batch.drop_index("uq_tenant_domains_kind_domain_verified")
