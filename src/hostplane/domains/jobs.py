"""The worker's domain job: re-check every domain that is due, with no transaction open while DNS
answers, so a slow resolver never holds a database lock."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from hostplane import errors
from hostplane.db.scope import Scope
from hostplane.domains import custom_domains, tenant_domains
from hostplane.domains.models import CustomDomain, TenantDomain
from hostplane.domains.verification import run_many

if TYPE_CHECKING:
    from hostplane.api.container import Container

log = logging.getLogger("hostplane.worker.domains")
BATCH = 100
CONCURRENCY = 64  # domains whose DNS is being asked at once, per worker
LEASE = timedelta(minutes=5)  # a claimed domain is skipped by other workers for this long
DUE_STATUSES = ("pending", "verified", "misconfigured")


def recheck_domains(container: Container) -> int:
    """Check the domains that are due (at most BATCH of each kind); answers how many. Plans are
    read, and results written, in one transaction per organization; DNS is asked for several
    domains at once (bounded), never inside a transaction."""
    now = container.clock.now()
    done = 0
    for model in (TenantDomain, CustomDomain):
        by_tenant: dict[str, list[str]] = defaultdict(list)
        for tenant_id, key in _claim(container, model, now):
            by_tenant[tenant_id].append(key)
        plans = [(tenant_id, key, plan) for tenant_id, keys in by_tenant.items()
                 for key, plan in _plans(container, model, tenant_id, keys)]
        outcomes = asyncio.run(run_many(container.resolver, [p[2] for p in plans], CONCURRENCY,
                                        _failed))
        results: dict[str, list[tuple[str, Any, Any]]] = defaultdict(list)
        for (tenant_id, key, plan), outcome in zip(plans, outcomes, strict=True):
            if outcome is not None:
                results[tenant_id].append((key, plan, outcome))
        for tenant_id, found in results.items():
            done += _record(container, model, tenant_id, found)
    return done


def _failed(plan: Any) -> None:
    """A domain's check raised: logged, and that domain only is skipped (it is due again when its
    lease runs out), never the pass."""
    log.exception("DNS check of %s failed", plan.domain)


def _plans(container: Container, model: type[TenantDomain] | type[CustomDomain], tenant_id: str,
           keys: list[str]) -> list[tuple[str, Any]]:
    settings = container.settings
    plans = []
    with container.database.transaction(write=False) as session:
        scope = Scope(session, tenant_id)
        if model is CustomDomain:  # many per organization: one query
            return [(p.id, p) for p in custom_domains.verification_plans(
                scope, keys, settings.proxy_target, settings.dns_challenge_label)]
        for key in keys:
            try:
                plan = tenant_domains.verification_plan(
                    scope, key, settings.proxy_target, settings.dns_challenge_label)
            except errors.HostplaneError:  # removed since it was claimed
                continue
            plans.append((key, plan))
    return plans


def _record(container: Container, model: type[TenantDomain] | type[CustomDomain],
            tenant_id: str, found: list[tuple[str, Any, Any]]) -> int:
    """Store one organization's results; a domain that changed or was taken meanwhile is skipped
    (its savepoint rolls back) and comes round again."""
    if model is CustomDomain:
        try:
            with container.database.transaction() as session:
                return custom_domains.record_batch(
                    Scope(session, tenant_id), [(plan, outcome) for _, plan, outcome in found],
                    container.clock.now())
        except IntegrityError:  # another organization proved one of the names just now
            log.info("domain batch lost a race; storing one at a time")
        except Exception:  # this organization's results only; the pass goes on
            log.exception("storing the domain checks of organization %s failed", tenant_id)
            return 0
    try:
        return _record_each(container, model, tenant_id, found)
    except Exception:  # this organization's results only (a deadlock, say); the pass goes on
        log.exception("storing the domain checks of organization %s failed", tenant_id)
        return 0


def _record_each(container: Container, model: type[TenantDomain] | type[CustomDomain],
                 tenant_id: str, found: list[tuple[str, Any, Any]]) -> int:
    stored = 0
    with container.database.transaction() as session:
        scope = Scope(session, tenant_id)
        now = container.clock.now()
        for key, plan, outcome in found:
            try:
                with session.begin_nested():
                    if model is TenantDomain:
                        tenant_domains.record_checks(scope, key, plan, outcome,
                                                     container.platform, now, explicit=False)
                    else:
                        custom_domains.record_checks(scope, plan, outcome, now, explicit=False)
                stored += 1
            except errors.HostplaneError as exc:
                log.info("domain re-check skipped: %s", exc.code)
            except Exception:
                log.exception("storing the check of %s failed", plan.domain)
    return stored


def _claim(container: Container, model: type[TenantDomain] | type[CustomDomain],
           now: object) -> list[tuple[str, str]]:
    """Due rows, leased for a while so concurrent workers take different ones (PostgreSQL also
    skips rows another worker has locked)."""
    with container.database.transaction() as session:
        stmt = (
            select(model)
            .where(model.status.in_(DUE_STATUSES),
                   or_(model.next_check_at.is_(None), model.next_check_at <= now))
            .order_by(model.next_check_at.asc().nulls_first())
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
