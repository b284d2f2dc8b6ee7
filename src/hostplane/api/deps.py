"""Request dependencies: who is calling (deny by default), their organization's scope, the clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from hostplane import errors
from hostplane.api.container import Container
from hostplane.db.scope import Scope
from hostplane.keys.service import authenticate
from hostplane.settings import Settings
from hostplane.tenancy.organizations import find_organization
from hostplane.tenancy.principal import Principal

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class RequestContext:
    """Everything a handler needs: the principal, a session scoped to its organization, the time."""

    principal: Principal
    scope: Scope
    now: datetime
    settings: Settings
    request_id: str


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def bearer_secret(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise errors.Unauthenticated(
            "This route needs a credential: send Authorization: Bearer <API key>.",
            code="UNAUTHENTICATED",
            fix="Create a key with `hostplane keys create --tenant <org>` and send it as a "
            "Bearer token.",
        )
    return credential


def authenticate_request(request: Request, session: Session) -> Principal:
    """Authenticate once per request (cached on request.state) and check X-MIOSA-Tenant."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    container = container_of(request)
    principal = authenticate(
        session,
        bearer_secret(request),
        now=container.clock.now(),
        last_used_every=timedelta(seconds=container.settings.key_last_used_resolution_seconds),
    )
    wanted = request.headers.get("x-miosa-tenant", "").strip()
    if wanted and wanted != principal.tenant_id:
        org = find_organization(session, wanted)
        if org is None or org.id != principal.tenant_id:
            # Another organization's id or slug looks exactly like one that does not exist.
            raise errors.NotFound(
                f"No organization {wanted!r} for this credential.",
                code="ORG_NOT_FOUND",
                field="X-MIOSA-Tenant",
                fix="Send your own organization's id or slug, or leave the header out.",
            )
    request.state.principal = principal
    return principal


def request_context(request: Request) -> Iterator[RequestContext]:
    container = container_of(request)
    session = container.database.session(write=request.method not in _READ_METHODS)
    try:
        principal = authenticate_request(request, session)
        yield RequestContext(
            principal=principal,
            scope=Scope(session, principal.tenant_id),
            now=container.clock.now(),
            settings=container.settings,
            request_id=getattr(request.state, "request_id", ""),
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": the transaction commits when the handler returns, before the response is sent.
CurrentContext = Annotated[RequestContext, Depends(request_context, scope="function")]


def needs(permission: str) -> Any:
    """A dependency that yields the request context if the caller holds `permission`, else 403."""

    def check(ctx: CurrentContext) -> RequestContext:
        ctx.principal.require(permission)
        return ctx

    return Depends(check)
