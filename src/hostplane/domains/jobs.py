"""The worker's domain job: re-check every domain that is due, with no transaction open while DNS
answers, so a slow resolver never holds a database lock."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from hostplane import errors
from hostplane.db.scope import Scope
from hostplane.domains import custom_domains, tenant_domains
from hostplane.domains.models import CustomDomain, TenantDomain
from hostplane.domains.verification import run_checks

if TYPE_CHECKING:
    from hostplane.api.container import Container

log = logging.getLogger("hostplane.worker.domains")
BATCH = 100
CONCURRENCY = 16  # DNS checks in flight at once per worker
LEASE = timedelta(minutes=5)  # a claimed domain is skipped by other workers for this long
DUE_STATUSES = ("pending", "verified", "misconfigured")


def recheck_domains(container: Container) -> int:
    """Check the domains that are due (at most BATCH of each kind); answers how many. DNS is
    asked for several domains at once (bounded), never inside a transaction."""
    now = container.clock.now()
    done = 0
    for model in (TenantDomain, CustomDomain):
        claimed = _claim(container, model, now)
        plans = [(tenant_id, key, _plan(container, model, tenant_id, key))
                 for tenant_id, key in claimed]
        plans = [p for p in plans if p[2] is not None]
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            outcomes = list(pool.map(lambda p: run_checks(container.resolver, p[2].expected),
                                     plans))
        for (tenant_id, key, plan), outcome in zip(plans, outcomes, strict=True):
            try:
                with container.database.transaction() as session:
                    scope = Scope(session, tenant_id)
                    if model is TenantDomain:
                        tenant_domains.record_checks(scope, key, plan, outcome,
                                                     container.platform, container.clock.now(),
                                                     explicit=False)
                    else:
                        custom_domains.record_checks(scope, plan, outcome,
                                                     container.clock.now(), explicit=False)
                done += 1
            except errors.HostplaneError as exc:  # changed or taken meanwhile: next pass
                log.info("domain re-check skipped: %s", exc.code)
    return done


def _plan(container: Container, model: type[TenantDomain] | type[CustomDomain], tenant_id: str,
          key: str) -> Any:
    settings = container.settings
    try:
        with container.database.transaction(write=False) as session:
            scope = Scope(session, tenant_id)
            if model is TenantDomain:
                return tenant_domains.verification_plan(
                    scope, key, settings.proxy_target, settings.dns_challenge_label)
            return custom_domains.verification_plan(
                scope, key, settings.proxy_target, settings.dns_challenge_label)
    except errors.HostplaneError:  # removed since it was claimed
        return None


def _claim(container: Container, model: type[TenantDomain] | type[CustomDomain],
           now: object) -> list[tuple[str, str]]:
    """Due rows, leased for a while so concurrent workers take different ones (PostgreSQL also
    skips rows another worker has locked)."""
    with container.database.transaction() as session:
        stmt = (
            select(model)
            .where(model.status.in_(DUE_STATUSES),
                   or_(model.next_check_at.is_(None), model.next_check_at <= now))
            .order_by(model.next_check_at)
            .limit(BATCH)
        )
        if not container.database.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(session.scalars(stmt))
        for row in rows:
            row.next_check_at = now + LEASE  # type: ignore[operator]
        keys = [(row.tenant_id, row.kind if isinstance(row, TenantDomain) else row.id)
                for row in rows]
    return keys
