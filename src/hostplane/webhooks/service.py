"""Managing webhooks: create (the secret shown once), change, re-enable, rotate, delete, and read
the deliveries."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select

from hostplane import errors
from hostplane.db.scope import Scope
from hostplane.events.service import latest_id, parse_types
from hostplane.webhooks.models import Webhook, WebhookDelivery
from hostplane.webhooks.send import url_problem

ROTATION_OVERLAP = timedelta(hours=24)
MAX_WEBHOOKS = 20


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def check_url(url: str, *, allow_loopback: bool) -> str:
    problem = url_problem(url, allow_loopback=allow_loopback)
    if problem or len(url) > 2000:
        raise errors.Invalid(f"{url[:200]!r} can't receive webhooks: "
                             f"{problem or 'it is longer than 2000 characters'}.",
                             code="WEBHOOK_URL_INVALID", field="url",
                             rule="an https URL of a public host (checked again at every delivery)",
                             fix="Use your endpoint's https:// URL.")
    return url


def create(scope: Scope, url: str, events: list[str], description: str | None, now: datetime,
           *, allow_loopback: bool) -> Webhook:
    """A new endpoint gets the events that happen from now on."""
    count = scope.session.scalar(select(func.count()).select_from(Webhook)
                                 .where(Webhook.tenant_id == scope.tenant_id)) or 0
    if count >= MAX_WEBHOOKS:
        raise errors.Conflict(f"This organization has {count} webhooks already.",
                              code="WEBHOOK_LIMIT", fix="Delete one you no longer use.")
    record = Webhook(tenant_id=scope.tenant_id, url=check_url(url, allow_loopback=allow_loopback),
                     events=list(_patterns(events)), description=description,
                     secret=new_secret(), cursor=latest_id(scope), created_at=now)
    scope.add(record)
    scope.session.flush()
    return record


def get(scope: Scope, webhook_id: str) -> Webhook:
    return scope.get(Webhook, webhook_id, what="webhook")


def list_all(scope: Scope) -> list[Webhook]:
    return list(scope.session.scalars(scope.select(Webhook).order_by(Webhook.created_at,
                                                                        Webhook.id)))


def update(scope: Scope, webhook_id: str, changes: dict[str, object], now: datetime, *,
           allow_loopback: bool) -> Webhook:
    """Change the URL, events or description; `enabled: true` ends a disabled endpoint's
    circuit (it resumes where it stopped), `false` pauses it."""
    record = get(scope, webhook_id)
    if "url" in changes:
        record.url = check_url(str(changes["url"]), allow_loopback=allow_loopback)
    if "events" in changes:
        record.events = list(_patterns(changes["events"]))  # type: ignore[arg-type]
    if "description" in changes:
        record.description = changes["description"]  # type: ignore[assignment]
    if changes.get("enabled") is True and record.state != "active":
        record.state, record.disabled_reason = "active", None
        record.failures, record.failing_since, record.next_attempt_at = 0, None, None
    elif changes.get("enabled") is False:
        record.state, record.disabled_reason = "disabled", "disabled by its organization"
    scope.session.flush()
    return record


def rotate(scope: Scope, webhook_id: str, now: datetime) -> Webhook:
    """A new secret signs from now on; the old one also signs (a second v1) for a day, so the
    receiver can switch without missing a delivery."""
    record = get(scope, webhook_id)
    record.previous_secret, record.secret = record.secret, new_secret()
    record.previous_secret_expires_at = now + ROTATION_OVERLAP
    scope.session.flush()
    return record


def delete(scope: Scope, webhook_id: str) -> None:
    scope.session.delete(get(scope, webhook_id))
    scope.session.flush()


def deliveries(scope: Scope, webhook_id: str, limit: int) -> list[WebhookDelivery]:
    get(scope, webhook_id)
    return list(scope.session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.tenant_id == scope.tenant_id,
                                      WebhookDelivery.webhook_id == webhook_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(limit)))


def _patterns(events: object) -> tuple[str, ...]:
    if not isinstance(events, list) or not events:
        raise errors.Invalid("events must name at least one event type.",
                             code="WEBHOOK_EVENTS_INVALID", field="events",
                             rule="a non-empty list of type patterns",
                             fix="Send e.g. [\"sandbox.*\", \"domain.verified\"] or [\"*\"].")
    return parse_types([str(e) for e in events], field="events")
