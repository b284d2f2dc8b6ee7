"""One table of proven names across every kind of domain: its key is the rule that a hostname
belongs to at most one organization. Filled from the domains verified today, oldest proof first;
a domain that clashes with an earlier proof (the same name, or a name under another
organization's wildcard) becomes `misconfigured`, so it is checked again and stops being served.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 08:40:00
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from hostplane.db.base import UTCDateTime

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
    verified = []
    for name, wildcard in (("tenant_domains", True), ("custom_domains", False)):
        table = sa.table(name, sa.column("id", sa.String), sa.column("domain", sa.String),
                         sa.column("tenant_id", sa.String), sa.column("status", sa.String),
                         sa.column("verified_at", UTCDateTime(timezone=True)))
        rows = bind.execute(sa.select(table.c.id, table.c.domain, table.c.tenant_id,
                                      table.c.verified_at).where(table.c.status == "verified"))
        verified += [(r.verified_at or datetime.now(UTC), name, r.id, r.domain, r.tenant_id,
                      wildcard) for r in rows]
    held: dict[str, dict] = {}
    losers: dict[str, list[str]] = {"tenant_domains": [], "custom_domains": []}
    for verified_at, name, row_id, domain, tenant_id, wildcard in sorted(verified):
        if _clashes(held, domain, tenant_id, wildcard):
            losers[name].append(row_id)  # proven later than a rival: no longer served
            continue
        first = held.setdefault(domain, {"name": domain, "tenant_id": tenant_id,
                                         "wildcard": wildcard, "created_at": verified_at})
        first["wildcard"] = first["wildcard"] or wildcard
    if held:
        op.bulk_insert(claims, list(held.values()))
    for name, ids in losers.items():
        if ids:
            table = sa.table(name, sa.column("id", sa.String), sa.column("status", sa.String))
            bind.execute(sa.update(table).where(table.c.id.in_(ids))
                         .values(status="misconfigured"))


def _clashes(held: dict[str, dict], domain: str, tenant_id: str, wildcard: bool) -> bool:
    """The rules of hostplane.domains.claims, over the claims taken so far."""
    labels = domain.split(".")
    parents = [".".join(labels[i:]) for i in range(1, len(labels) - 1)]
    for other in held.values():
        if other["tenant_id"] == tenant_id:
            continue
        if other["name"] == domain or (other["wildcard"] and other["name"] in parents):
            return True
        if wildcard and other["name"].endswith("." + domain):
            return True
    return False


def downgrade() -> None:
    op.drop_index("ix_domain_claims_tenant_id", "domain_claims")
    op.drop_table("domain_claims")
