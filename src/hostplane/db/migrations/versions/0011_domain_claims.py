"""One table of proven names across every kind of domain: its key is the rule that a hostname
belongs to at most one organization. Filled from the domains verified today.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 08:40:00
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    claims = op.create_table(
        "domain_claims",
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("wildcard", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(36),
                  sa.ForeignKey("tenants.id", name="fk_domain_claims_tenant_id_tenants",
                                ondelete="CASCADE"), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_domain_claims"),
    )
    op.create_index("ix_domain_claims_tenant_id", "domain_claims", ["tenant_id"])
    bind = op.get_bind()
    held: dict[str, dict] = {}
    for table, wildcard in (("tenant_domains", True), ("custom_domains", False)):
        rows = bind.execute(sa.text(
            f"SELECT domain, tenant_id, verified_at FROM {table} WHERE status = 'verified' "
            "ORDER BY verified_at"))
        for name, tenant_id, verified_at in rows:
            first = held.setdefault(name, {"name": name, "tenant_id": tenant_id,
                                           "wildcard": wildcard,
                                           "created_at": verified_at or datetime.now(UTC)})
            if first["tenant_id"] == tenant_id:
                first["wildcard"] = first["wildcard"] or wildcard
    if held:
        op.bulk_insert(claims, list(held.values()))


def downgrade() -> None:
    op.drop_index("ix_domain_claims_tenant_id", "domain_claims")
    op.drop_table("domain_claims")
