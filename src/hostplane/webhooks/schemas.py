"""Webhooks as API clients see them (the secret only in the answer that made it)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from hostplane.webhooks.models import Webhook, WebhookDelivery


class WebhookCreate(BaseModel):
    url: str = Field(max_length=2000)
    events: list[str] = Field(max_length=20)
    description: str | None = Field(default=None, max_length=500)


class WebhookUpdate(BaseModel):
    url: str | None = Field(default=None, max_length=2000)
    events: list[str] | None = Field(default=None, max_length=20)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None


class WebhookPublic(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    state: str  # active | disabled
    disabled_reason: str | None
    failures: int  # deliveries failed in a row
    next_attempt_at: datetime | None
    secret_rotated_until: datetime | None  # the previous secret also signs until then
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, w: Webhook) -> WebhookPublic:
        return cls(id=w.id, url=w.url, events=w.events, description=w.description,
                   enabled=w.state == "active", state=w.state, disabled_reason=w.disabled_reason,
                   failures=w.failures, next_attempt_at=w.next_attempt_at,
                   secret_rotated_until=w.previous_secret_expires_at,
                   created_at=w.created_at, updated_at=w.updated_at)


class WebhookCreated(BaseModel):
    """`secret` signs every delivery; it is shown here once."""

    data: WebhookPublic
    secret: str


class DeliveryPublic(BaseModel):
    id: str
    webhook_id: str
    event_id: int | None
    event_type: str
    attempt: int
    status: str  # delivered | failed
    success: bool
    status_code: int | None
    error: str | None
    duration_ms: int
    created_at: datetime

    @classmethod
    def of(cls, d: WebhookDelivery) -> DeliveryPublic:
        return cls(id=d.id, webhook_id=d.webhook_id, event_id=d.event_id,
                   event_type=d.event_type, attempt=d.attempt, status=d.status,
                   success=d.status == "delivered", status_code=d.status_code, error=d.error,
                   duration_ms=d.duration_ms, created_at=d.created_at)
