"""Delivering the event log to endpoints: at least once, in order per endpoint, retried with
exponential backoff, and an endpoint that keeps failing is disabled and says so.

Each pass leases due endpoints (an UPDATE that only one worker can win, with an expiry, so a
worker killed mid-delivery is replaced after its lease), sends each one's next events after its
cursor, and stores the attempts. No transaction is open while a request is in flight.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update

from hostplane.audit.models import AuditEvent
from hostplane.db.base import new_id
from hostplane.db.scope import Scope
from hostplane.events import recorder
from hostplane.events.models import Event
from hostplane.events.schemas import EventPublic
from hostplane.events.service import EventFilters, list_events, matches
from hostplane.webhooks.models import Webhook, WebhookDelivery
from hostplane.webhooks.send import Sent, post, signature_headers

if TYPE_CHECKING:
    from hostplane.api.container import Container

log = logging.getLogger("hostplane.worker.webhooks")
LEASE = timedelta(minutes=2)  # renewed before each send (one send takes at most 15 s)
SENDERS = 8  # endpoints served at once by one pass
PER_ORGANIZATION = 2  # of one organization's endpoints, at once
BATCH = 20  # events per endpoint per pass
FIRST_RETRY = timedelta(seconds=10)
MAX_RETRY = timedelta(hours=1)
# Failing this long without one success: the circuit opens (the endpoint is disabled). Retries
# run at least this long, so a receiver down for a day loses nothing.
DISABLE_AFTER = timedelta(hours=72)


def deliver_due(container: Container, *, limit: int = 50) -> int:
    """One pass: the due endpoints' next events, several endpoints at once but at most
    PER_ORGANIZATION of one organization's, so a slow endpoint holds up only its own
    organization's deliveries. Answers how many attempts were made."""
    owner = new_id()
    leased = _lease(container, container.clock.now(), limit, owner)
    if not leased:
        return 0
    with ThreadPoolExecutor(min(SENDERS, len(leased)), thread_name_prefix="webhook") as pool:
        return sum(pool.map(lambda item: _deliver_leased(container, *item, owner), leased))


def _deliver_leased(container: Container, webhook_id: str, tenant_id: str, owner: str) -> int:
    try:
        return _deliver(container, webhook_id, tenant_id, owner)
    except Exception:  # one endpoint must never stop the others
        log.exception("delivering to webhook %s failed", webhook_id)
        return 0
    finally:
        with container.database.transaction() as session:
            session.execute(update(Webhook)
                            .where(Webhook.id == webhook_id, Webhook.lease_owner == owner)
                            .values(leased_until=None, lease_owner=None))


def payload(event: Event) -> bytes:
    body = EventPublic.of(event).model_dump(mode="json")
    return json.dumps({"id": str(event.id), "type": event.type,
                       "created_at": body["created_at"], "data": body}).encode()


def send_test(container: Container, webhook: Webhook, now: datetime) -> tuple[bytes, Sent]:
    """A `webhook.test` event, sent now (it is not in the event log); no session is open."""
    body = json.dumps({"id": "test", "type": "webhook.test", "created_at": now.isoformat(),
                       "data": {"webhook_id": webhook.id}}).encode()
    return body, _post(container, webhook, body, "test", now)


def record_test(scope: Scope, webhook: Webhook, _body: bytes, sent: Sent,
                now: datetime) -> WebhookDelivery:
    return _record(scope, webhook, None, "webhook.test", 1, sent, now)


def _lease(container: Container, now: datetime, limit: int,
           owner: str) -> list[tuple[str, str]]:
    with container.database.transaction() as session:
        due = session.execute(
            select(Webhook.id, Webhook.tenant_id)
            .where(Webhook.state == "active",
                   or_(Webhook.next_attempt_at.is_(None), Webhook.next_attempt_at <= now),
                   or_(Webhook.leased_until.is_(None), Webhook.leased_until < now),
                   select(Event.id).where(Event.tenant_id == Webhook.tenant_id,
                                          Event.id > Webhook.cursor).exists())
            .order_by(Webhook.next_attempt_at, Webhook.id).limit(limit)).all()
    per_organization: Counter[str] = Counter()
    won = []
    for webhook_id, tenant_id in due:
        if per_organization[tenant_id] >= PER_ORGANIZATION:
            continue  # its turn comes at the next pass
        if _take(container, webhook_id, owner, now, free_only=True):
            per_organization[tenant_id] += 1
            won.append((webhook_id, tenant_id))
    return won


def _take(container: Container, webhook_id: str, owner: str, now: datetime, *,
          free_only: bool) -> bool:
    """Lease the endpoint for LEASE from now: a free one (free_only), or renew our own lease."""
    with container.database.transaction() as session:
        mine = or_(Webhook.leased_until.is_(None), Webhook.leased_until < now) if free_only \
            else Webhook.lease_owner == owner
        taken = session.execute(
            update(Webhook).where(Webhook.id == webhook_id, mine)
            .values(leased_until=now + LEASE, lease_owner=owner)
            .execution_options(synchronize_session=False))
        return taken.rowcount == 1


def _deliver(container: Container, webhook_id: str, tenant_id: str, owner: str) -> int:
    with container.database.transaction() as session:
        scope = Scope(session, tenant_id)
        webhook = scope.get(Webhook, webhook_id, what="webhook")
        found = list_events(scope, EventFilters(), after=webhook.cursor, limit=BATCH)
        session.expunge_all()
    made = 0
    for event in found:
        now = container.clock.now()
        if not matches(event.type, webhook.events):
            continue  # not wanted: passed over, in order
        if not _take(container, webhook_id, owner, now, free_only=False):
            break  # the lease was lost (this pass ran too long): another worker goes on
        sent = _post(container, webhook, payload(event), str(event.id), now)
        made += 1
        with container.database.transaction() as session:
            scope = Scope(session, tenant_id)
            current = scope.get(Webhook, webhook_id, what="webhook")
            if current.lease_owner != owner or current.cursor >= event.id:
                break  # another worker took over meanwhile, and records its own attempt
            attempt = current.failures + 1
            _record(scope, current, event.id, event.type, attempt, sent, now)
            if sent.delivered:
                current.cursor, current.failures = event.id, 0
                current.failing_since = current.next_attempt_at = None
            else:
                _failed(scope, current, sent, now)
        if not sent.delivered:
            break  # the events after it wait: each endpoint gets its events in order
    else:
        if found:  # every event up to the last one was delivered or not wanted
            _advance(container, webhook_id, owner, found[-1].id)
    return made


def _post(container: Container, webhook: Webhook, body: bytes, event_id: str,
          now: datetime) -> Sent:
    live = [webhook.secret]
    if webhook.previous_secret and webhook.previous_secret_expires_at \
            and webhook.previous_secret_expires_at > now:
        live.append(webhook.previous_secret)
    # The receiver checks the timestamp against its own clock: the moment of sending, always
    # the wall clock (the platform's clock may be moved in tests).
    headers = signature_headers(body, live, event_id, int(time.time()))
    return post(webhook.url, body, headers,
                allow_loopback=container.settings.webhook_allow_loopback)


def _advance(container: Container, webhook_id: str, owner: str, event_id: int) -> None:
    """Move past events the endpoint does not want, in one write at the end of a pass."""
    with container.database.transaction() as session:
        session.execute(update(Webhook)
                        .where(Webhook.id == webhook_id, Webhook.lease_owner == owner,
                               Webhook.cursor < event_id)
                        .values(cursor=event_id))


def _record(scope: Scope, webhook: Webhook, event_id: int | None, event_type: str,
            attempt: int, sent: Sent, now: datetime) -> WebhookDelivery:
    delivery = WebhookDelivery(tenant_id=scope.tenant_id, webhook_id=webhook.id,
                               event_id=event_id, event_type=event_type, attempt=attempt,
                               status="delivered" if sent.delivered else "failed",
                               status_code=sent.status_code, error=sent.error,
                               duration_ms=sent.duration_ms, created_at=now)
    scope.add(delivery)
    scope.session.flush()
    return delivery


def _failed(scope: Scope, webhook: Webhook, sent: Sent, now: datetime) -> None:
    webhook.failures += 1
    webhook.failing_since = webhook.failing_since or now
    wait = min(MAX_RETRY, FIRST_RETRY * 2 ** min(webhook.failures - 1, 20))
    webhook.next_attempt_at = now + wait
    if now - webhook.failing_since < DISABLE_AFTER:
        return
    webhook.state = "disabled"
    webhook.disabled_reason = (f"every delivery failed for {DISABLE_AFTER.days} days "
                               f"(last: {sent.error})")[:500]
    recorder.emit(scope.session, scope.tenant_id, "webhook.disabled", "webhook", webhook.id,
                  data={"reason": webhook.disabled_reason, "url": webhook.url})
    scope.add(AuditEvent(actor_type="system", actor_id="webhooks", action="webhook.disable",
                         method="-", route="-", resource_type="webhook",
                         resource_id=webhook.id, status_code=0, request_id="-",
                         created_at=now))
