"""Webhook endpoints and the record of every attempt to deliver to them."""

from __future__ import annotations

from datetime import datetime
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hostplane.db.base import Base, JSONType, TenantOwned, Timestamped, new_id
from hostplane.events.models import SEQUENCE


class Webhook(TenantOwned, Timestamped, Base):
    """An endpoint and the event types it wants. Delivery follows `cursor` (the last event id
    delivered, or skipped as not wanted) one event at a time, so each endpoint gets its events
    in order; a failing event is retried with backoff and holds the ones after it."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    description: Mapped[str | None] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16), default="active")  # active | disabled
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    # The signing secret is used, not compared, so it is kept as is (as Stripe and GitHub do);
    # it is shown once, at creation or rotation, and never appears in a response after.
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None]
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row
    failing_since: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    leased_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(36))  # the pass holding the lease


class WebhookDelivery(TenantOwned, Base):
    """One attempt: which event, what the endpoint answered (or why nothing came back)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_webhook_id_created_at", "webhook_id",
                            "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    webhook_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(SEQUENCE)  # None: a test delivery
    event_type: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # delivered | failed
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
