"""The worker's event job: the log keeps HOSTPLANE_EVENT_RETENTION_DAYS of events, and never
drops one an active webhook has yet to receive.

Event ids grow in commit order, and so (closely) do their times, so the job walks the log from
its oldest id and stops at the first batch that reaches the cutoff: when nothing is old, a pass
reads one row. Webhook delivery attempts older than the cutoff go in the same pass.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select

from hostplane.events.models import Event
from hostplane.webhooks.models import Webhook, WebhookDelivery

if TYPE_CHECKING:
    from hostplane.api.container import Container

BATCH = 2000  # events read (and at most deleted) per transaction


def prune_events(container: Container) -> int:
    """Delete events past the retention period; answers how many."""
    cutoff = container.clock.now() - timedelta(days=container.settings.event_retention_days)
    with container.database.transaction(write=False) as session:
        oldest = session.scalar(select(Event.created_at).order_by(Event.id).limit(1))
    if oldest is None or oldest >= cutoff:
        return 0  # the usual pass: one row read by the primary key
    after, deleted = 0, 0
    while True:
        with container.database.transaction() as session:
            # Read in the deleting transaction: an endpoint's cursor only moves forward, so a
            # hold seen here is never too short.
            held = dict(session.execute(
                select(Webhook.tenant_id, func.min(Webhook.cursor))
                .where(Webhook.state == "active").group_by(Webhook.tenant_id)).all())
            rows = session.execute(select(Event.id, Event.tenant_id, Event.created_at)
                                   .where(Event.id > after).order_by(Event.id)
                                   .limit(BATCH)).all()
            gone = [row.id for row in rows if row.created_at < cutoff
                    and (row.tenant_id not in held or row.id <= held[row.tenant_id])]
            if gone:
                session.execute(delete(Event).where(Event.id.in_(gone)))
            if after == 0:
                session.execute(delete(WebhookDelivery)
                                .where(WebhookDelivery.created_at < cutoff))
        deleted += len(gone)
        if len(rows) < BATCH or rows[-1].created_at >= cutoff:
            return deleted
        after = rows[-1].id
