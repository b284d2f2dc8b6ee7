"""Request dependencies: the caller (authenticated by middleware), a session scoped to its
organization, the clock, and the permission each route needs.

The request context is an async dependency on purpose: a read-only request's autocommitting
session has no transaction to end, so a GET makes exactly one thread hop (its handler). A write
commits in one more hop, before the response is sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from hostplane.api.container import Container
from hostplane.db.scope import Scope
from hostplane.settings import Settings
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


def principal_of(request: Request) -> Principal:
    """The caller, as AuthenticationMiddleware found it (every /api/v1 request has one)."""
    principal: Principal = request.state.principal
    return principal


def _end(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()
    finally:
        session.close()


async def request_context(request: Request) -> AsyncIterator[RequestContext]:
    container = container_of(request)
    principal = principal_of(request)
    write = request.method not in _READ_METHODS
    session = container.database.session(write=write)  # connects lazily, in the handler's thread
    try:
        yield RequestContext(
            principal=principal,
            scope=Scope(session, principal.tenant_id),
            now=container.clock.now(),
            settings=container.settings,
            request_id=getattr(request.state, "request_id", ""),
        )
    except BaseException:
        if write:
            await run_in_threadpool(_end, session, commit=False)
        else:
            session.close()
        raise
    if write:
        await run_in_threadpool(_end, session, commit=True)
    else:
        session.close()  # autocommit reader: returning the connection costs no round trip


# scope="function": the transaction commits when the handler returns, before the response is sent.
CurrentContext = Annotated[RequestContext, Depends(request_context, scope="function")]


def needs(permission: str) -> Any:
    """A dependency that yields the request context if the caller holds `permission`, else 403."""

    # async: a permission check does no I/O, so it need not cost a trip to the thread pool.
    async def check(ctx: CurrentContext) -> RequestContext:
        ctx.principal.require(permission)
        return ctx

    return Depends(check)
