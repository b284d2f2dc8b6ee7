"""The audit table: one row per change an organization's credentials made (never a body, so no
secret can land here)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hostplane.db.base import Base, TenantOwned, new_id


class AuditEvent(TenantOwned, Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_tenant_id_created_at", "tenant_id", "created_at"),
        Index("ix_audit_events_tenant_id_actor_id", "tenant_id", "actor_id"),
        Index("ix_audit_events_tenant_id_resource", "tenant_id", "resource_type", "resource_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    actor_type: Mapped[str] = mapped_column(String(16))  # api_key | browser_token
    actor_id: Mapped[str] = mapped_column(String(36))  # the key id, or the token's jti
    external_user_id: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(80))  # e.g. sandbox.create, domain.verify
    method: Mapped[str] = mapped_column(String(8))
    route: Mapped[str] = mapped_column(String(200))  # the route template, ids as {placeholders}
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[str | None] = mapped_column(String(200))
    status_code: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str] = mapped_column(String(140))
    created_at: Mapped[datetime]
