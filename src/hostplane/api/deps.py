"""Request dependencies: the caller (authenticated by middleware), a session scoped to its
organization, the clock, and the permission each route needs.

Handlers are `async def` and do their database work in exactly one worker-thread call,
`await ctx.run(service_function, ...)`, which also commits (or rolls back) and closes the session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from hostplane.api.container import Container
from hostplane.api.fairness import DriverShares
from hostplane.api.ratelimit import RateLimiter
from hostplane.db.helpers import run_hooks
from hostplane.db.scope import Scope
from hostplane.resources.env import Env
from hostplane.settings import Settings
from hostplane.tenancy.principal import Principal

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
T = TypeVar("T")


@dataclass
class RequestContext:
    """Everything a handler needs: the principal, a session scoped to its organization, the time."""

    principal: Principal
    scope: Scope
    now: datetime
    settings: Settings
    request_id: str
    write: bool
    env: Env
    driver_shares: DriverShares
    verify_limiter: RateLimiter

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(scope, *args, **kwargs)` in a worker thread and end the transaction in that
        same call: a lock or connection is never held while the request waits for another
        thread (which, with every worker thread waiting on that lock, would never come)."""
        return await run_in_threadpool(self._run, fn, args, kwargs)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(*args, **kwargs)` in a worker thread with no database session: for slow work
        outside the database (a command in a sandbox) after `run` has read what it needs. These
        calls have their own limits, so long commands never take the threads requests need, and
        one organization's commands never take every other organization's turn."""
        return await self.driver_shares.run(self.principal.tenant_id,
                                            partial(fn, *args, **kwargs))

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        session = self.scope.session
        try:
            result = fn(self.scope, *args, **kwargs)
            if self.write:
                session.commit()
        except BaseException:
            session.rollback()
            run_hooks(session, committed=False)
            raise
        finally:
            session.close()
        run_hooks(session, committed=True)
        return result


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def principal_of(request: Request) -> Principal:
    """The caller, as AuthenticationMiddleware found it (every /api/v1 request has one)."""
    principal: Principal = request.state.principal
    return principal


def request_context(request: Request, *, write: bool) -> RequestContext:
    """The context of one request. Its session connects lazily, inside `ctx.run`, which also
    closes it: a handler that never calls `run` never holds a connection."""
    container = container_of(request)
    principal = principal_of(request)
    now = container.clock.now()
    return RequestContext(
        principal=principal,
        scope=Scope(container.database.session(write=write), principal.tenant_id,
                    principal.limit, shared=None if write else container.routes,
                    set_up=principal.set_up),
        now=now,
        settings=container.settings,
        request_id=getattr(request.state, "request_id", ""),
        write=write,
        env=Env(container.platform, container.driver, now, container.resolver,
                container.databases, container.capacity, container.releases,
                container.assets),
        driver_shares=container.driver_shares,
        verify_limiter=container.verify_limiter,
    )


def needs(permission: str, *, writes: bool = False) -> Any:
    """A dependency that gives the request context if the caller holds `permission`, else 403.
    `writes`: the route changes state even when called with GET (the spec's GET
    …/preview-domain/verify), so it runs in a real transaction.

    One flat `async` dependency (no nested or generator dependency to solve, no thread-pool
    hop): a permission check does no I/O, and it is asked before any session exists."""

    async def check(request: Request) -> RequestContext:
        principal_of(request).require(permission)
        return request_context(request, write=writes or request.method not in _READ_METHODS)

    return Depends(check)
