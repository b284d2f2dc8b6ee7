"""Domain tables: the organization's preview and deployment domains."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from hostplane.db.base import Base, JSONType, TenantOwned, Timestamped, new_id

VERIFIED = text("status = 'verified'")
PREVIEW = "preview"
DEPLOYMENT = "deployment"


class TenantDomain(TenantOwned, Timestamped, Base):
    """An organization's own base domain for one URL layer (`preview` or `deployment`).

    The URL engine uses it only once `status` is `verified`; until then the fallback stays.
    """

    __tablename__ = "tenant_domains"
    __table_args__ = (
        UniqueConstraint("tenant_id", "kind"),
        # Two organizations can both ask for a name; only one can hold it verified.
        Index("uq_tenant_domains_kind_domain_verified", "kind", "domain", unique=True,
              sqlite_where=VERIFIED, postgresql_where=VERIFIED),
        Index("ix_tenant_domains_previous_domain", "kind", "previous_domain"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    domain: Mapped[str] = mapped_column(String(253))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    verified_at: Mapped[datetime | None]
    last_checked_at: Mapped[datetime | None]
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    # The last check, record by record: [{purpose, type, name, status, observed}].
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    next_check_at: Mapped[datetime | None]
    # The verified name this one replaces: URLs and the edge keep using it (and its claim is
    # kept) until `domain` verifies, so changing the domain never drops branded URLs.
    previous_domain: Mapped[str | None] = mapped_column(String(253))
    # Whether verifying needs the TXT ownership record as well as routing: only when another
    # organization holds, has held or claims the name or one around it (claims.contested).
    ownership_required: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def serving_domain(self) -> str | None:
        """The name URLs use now: this one once verified, else the verified one it replaces."""
        return self.domain if self.status == "verified" else self.previous_domain


LIVE_DOMAIN = text("status != 'removed'")


class CustomDomain(TenantOwned, Timestamped, Base):
    """An exact domain a customer owns, attached to a deployment, computer or project (spec §6).

    Several organizations may claim a name; the first to prove it holds it (unique among
    verified rows) and the other claims end. A name nobody else has touched is proven by its
    routing record alone; a contested one needs the organization's own TXT record. An organization claims a name once
    (unique among its rows not `removed`). A removed row stays as a tombstone: claiming the name
    again, by anyone, starts from `pending` and needs fresh DNS proof.
    """

    __tablename__ = "custom_domains"
    __table_args__ = (
        Index("uq_custom_domains_domain_verified", "domain", unique=True,
              sqlite_where=VERIFIED, postgresql_where=VERIFIED),
        Index("uq_custom_domains_tenant_id_domain_live", "tenant_id", "domain", unique=True,
              sqlite_where=LIVE_DOMAIN, postgresql_where=LIVE_DOMAIN),
        Index("ix_custom_domains_tenant_id_target", "tenant_id", "target_type", "target_id"),
        # Claims on one name across organizations (ending rivals, checking who holds it).
        Index("ix_custom_domains_domain", "domain"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    domain: Mapped[str] = mapped_column(String(253))
    target_type: Mapped[str] = mapped_column(String(16))  # deployment | computer | project | sandbox
    target_id: Mapped[str] = mapped_column(String(36))
    port: Mapped[int | None] = mapped_column(Integer)  # a sandbox's: the preview port it serves
    status: Mapped[str] = mapped_column(String(16), default="pending")
    redirect_policy: Mapped[str] = mapped_column(String(16), default="none")
    external_workspace_id: Mapped[str | None] = mapped_column(String(200))
    external_project_id: Mapped[str | None] = mapped_column(String(200))
    external_user_id: Mapped[str | None] = mapped_column(String(200))
    verified_at: Mapped[datetime | None]
    last_checked_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    ownership_required: Mapped[bool] = mapped_column(Boolean, default=True)  # as TenantDomain's


class DomainClaim(TenantOwned, Base):
    """A name an organization has proven and holds: one row per name across every kind of
    domain, so the primary key is the rule "a hostname belongs to at most one organization".

    A row exists exactly while one of the organization's domains with that name is `verified`.
    `wildcard` is true when an organization domain holds it, which covers every name beneath.
    """

    __tablename__ = "domain_claims"

    name: Mapped[str] = mapped_column(String(253), primary_key=True)
    wildcard: Mapped[bool] = mapped_column(default=False)
    # How it was proven: `ownership` (the TXT record) or `routing` (records alone, nobody else
    # near the name). A TXT proof by another organization takes a name from a routing proof.
    proof: Mapped[str] = mapped_column(String(16), default="ownership")
    created_at: Mapped[datetime]


class DomainEvent(TenantOwned, Base):
    """One change of a domain's state, for a UI's history (`…/events`)."""

    __tablename__ = "domain_events"
    __table_args__ = (Index("ix_domain_events_tenant_id_subject", "tenant_id", "subject"),
                      Index("ix_domain_events_domain", "domain"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # What changed: a custom domain's id, or "tenant:preview" / "tenant:deployment".
    subject: Mapped[str] = mapped_column(String(64))
    domain: Mapped[str] = mapped_column(String(253))
    event: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
