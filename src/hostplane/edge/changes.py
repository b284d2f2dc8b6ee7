"""Route changes: any write to a table the edge routes from is announced when it commits.

Structural, so no service can forget it: a flush that adds, changes or deletes a row of a routed
model, or a bulk UPDATE/DELETE on one, announces the routes channel (in this process at commit,
and through PostgreSQL NOTIFY to every other). Edge caches then forget what they hold; a lookup
that raced with the change is not cached (RouteCache's generation check).
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from hostplane.db.notify import announce

CHANNEL = "hostplane_routes"
ALL = "*"


def _routed_models() -> tuple[type, ...]:
    from hostplane.branding.models import Branding
    from hostplane.domains.models import CustomDomain, TenantDomain
    from hostplane.keys.models import ApiKey
    from hostplane.resources.models import Computer, Deployment, Sandbox, SandboxPreview
    from hostplane.tenancy.models import Project, Tenant, Workspace
    from hostplane.tokens.models import BrowserToken, SigningKey, UserRevocation

    return (Tenant, Workspace, Project, Sandbox, SandboxPreview, Deployment, Computer,
            CustomDomain, TenantDomain, Branding, BrowserToken, UserRevocation, ApiKey,
            SigningKey)


_INSTALLED: weakref.WeakSet[sessionmaker[Session]] = weakref.WeakSet()


def install(factory: sessionmaker[Session]) -> None:
    """Announce route changes made through sessions of `factory`. Once per factory, however many containers share a database."""
    if factory in _INSTALLED:
        return
    _INSTALLED.add(factory)
    routed = _routed_models()

    @event.listens_for(factory, "after_flush")
    def _flushed(session: Session, _context: Any) -> None:
        for obj in (*session.new, *session.dirty, *session.deleted):
            if isinstance(obj, routed):
                announce(session, CHANNEL, ALL)
                return

    @event.listens_for(factory, "do_orm_execute")
    def _bulk(state: Any) -> None:
        if (state.is_update or state.is_delete) and state.bind_mapper is not None \
                and issubclass(state.bind_mapper.class_, routed):
            announce(state.session, CHANNEL, ALL)
