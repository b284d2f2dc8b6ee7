"""The event table: one row per state change, written in the changing transaction (an outbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hostplane.db.base import Base, JSONType, TenantOwned

# SQLite numbers rows with INTEGER PRIMARY KEY only; PostgreSQL gets a 64-bit identity.
SEQUENCE = BigInteger().with_variant(Integer(), "sqlite")


class Event(TenantOwned, Base):
    """`id` grows in commit order (rows are numbered while the commit holds the event lock), so
    "everything after id N" never skips a late commit."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[int] = mapped_column(SEQUENCE, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(200))
    workspace_id: Mapped[str | None] = mapped_column(String(36))
    project_id: Mapped[str | None] = mapped_column(String(36))
    external_workspace_id: Mapped[str | None] = mapped_column(String(200))
    external_project_id: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime]
