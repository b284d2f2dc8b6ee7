"""Unproven claims no longer block a name: only a verified exact domain is unique platform-wide;
each organization claims a name once.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 07:55:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

LIVE = sa.text("status != 'removed'")
VERIFIED = sa.text("status = 'verified'")


def upgrade() -> None:
    with op.batch_alter_table("custom_domains") as batch:
        batch.drop_index("uq_custom_domains_domain_live", sqlite_where=LIVE, postgresql_where=LIVE)
        batch.create_index("uq_custom_domains_domain_verified", ["domain"], unique=True,
                           sqlite_where=VERIFIED, postgresql_where=VERIFIED)
        batch.create_index("uq_custom_domains_tenant_id_domain_live", ["tenant_id", "domain"],
                           unique=True, sqlite_where=LIVE, postgresql_where=LIVE)


def downgrade() -> None:
    with op.batch_alter_table("custom_domains") as batch:
        batch.drop_index("uq_custom_domains_tenant_id_domain_live")
        batch.drop_index("uq_custom_domains_domain_verified")
        batch.create_index("uq_custom_domains_domain_live", ["domain"], unique=True,
                           sqlite_where=LIVE, postgresql_where=LIVE)
