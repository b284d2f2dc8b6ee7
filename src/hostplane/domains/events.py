"""Domain history: every state change of an organization domain or an exact domain."""

from __future__ import annotations

from datetime import datetime

from hostplane.db.scope import Scope
from hostplane.domains.models import DomainEvent

# What a move from one status to another is called (the domains research's event names).
_NAMES = {"verified": "verified", "misconfigured": "misconfigured", "failed": "failed",
          "removed": "removed", "pending": "pending"}


def record(scope: Scope, subject: str, domain: str, before: str | None, after: str,
           now: datetime, detail: str | None = None) -> None:
    """Add an event if the status changed (or the domain was just claimed)."""
    if before == after:
        return
    if before is None:
        name = "created"
    elif after == "verified" and before == "misconfigured":
        name = "recovered"
    else:
        name = _NAMES.get(after, after)
    scope.add(DomainEvent(subject=subject, domain=domain, event=name, from_status=before,
                          to_status=after, detail=(detail or None) and detail[:500],
                          created_at=now))


def history(scope: Scope, subject: str) -> list[DomainEvent]:
    stmt = (scope.select(DomainEvent).where(DomainEvent.subject == subject)
            .order_by(DomainEvent.created_at, DomainEvent.id))
    return list(scope.session.scalars(stmt))


def tenant_subject(kind: str) -> str:
    return f"tenant:{kind}"
