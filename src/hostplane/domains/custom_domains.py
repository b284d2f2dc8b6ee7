"""Exact custom domains (spec §6): attached to a deployment, computer or project, proven with DNS
like the organization's own domains, and used by the URL engine only once verified."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from hostplane import errors
from hostplane.db.helpers import Page, apply_or_raise, paginate, try_insert
from hostplane.db.scope import Scope
from hostplane.domains import events
from hostplane.domains.claims import check_unclaimed, end_other_claims, taken
from hostplane.domains.hostnames import canonical_domain
from hostplane.domains.models import CustomDomain
from hostplane.domains.tenant_domains import check_not_platform
from hostplane.domains.verification import Expected, Outcome, after_check, exact_records
from hostplane.resources.common import get_resource
from hostplane.resources.models import Computer, Deployment
from hostplane.tenancy.organizations import require_setup
from hostplane.tenancy.projects import get_project
from hostplane.urls import Platform

TARGETS = ("deployment", "computer", "project")
REMOVED = "removed"


@dataclass(frozen=True)
class DomainRequest:
    domain: str
    field: str
    redirect_policy: str = "none"
    external_workspace_id: str | None = None
    external_project_id: str | None = None
    external_user_id: str | None = None


@dataclass(frozen=True)
class DomainPlan:
    id: str
    domain: str
    expected: list[Expected]


def target_of(scope: Scope, target_type: str, target_id: str) -> Any:
    """The deployment, computer or project a domain is attached to (404 if not this org's)."""
    if target_type == "deployment":
        return get_resource(scope, Deployment, target_id, "deployment")
    if target_type == "computer":
        return get_resource(scope, Computer, target_id, "computer")
    return get_project(scope, target_id)


def add_domain(scope: Scope, target_type: str, target_id: str, request: DomainRequest,
               platform: Platform, now: datetime) -> tuple[CustomDomain, bool]:
    """Attach a name (pending until DNS proves it); the same name on the same target again answers
    the existing record (reused). A name held elsewhere is 409 DOMAIN_CLAIMED."""
    require_setup(scope.tenant())
    target = target_of(scope, target_type, target_id)
    name = canonical_domain(request.domain, field=request.field)
    if len(name) + 21 > 253:  # the ownership record `_hostplane-challenge.{name}` must fit too
        raise errors.Invalid(f"{name!r} is too long to verify.", code="HOSTNAME_TOO_LONG",
                             field=request.field, rule="at most 232 characters, so its "
                             "_hostplane-challenge TXT name fits in 253", fix="Use a shorter name.")
    check_not_platform(name, platform, request.field)
    check_unclaimed(scope, name, request.field)
    mine = scope.find(CustomDomain, domain=name, removed_at=None)
    if mine is not None:
        return _same_target(mine, target_type, target.id, request.field), True
    record = CustomDomain(
        tenant_id=scope.tenant_id, domain=name, target_type=target_type, target_id=target.id,
        status="pending", redirect_policy=request.redirect_policy, created_at=now,
        external_workspace_id=request.external_workspace_id
        or getattr(target, "external_workspace_id", None),
        external_project_id=request.external_project_id
        or getattr(target, "external_project_id", None),
        external_user_id=request.external_user_id or getattr(target, "external_user_id", None),
    )
    if try_insert(scope.session, record):
        events.record(scope, record.id, name, None, "pending", now)
        return record, False
    again = scope.find(CustomDomain, domain=name, removed_at=None)
    if again is not None:  # this organization, concurrently
        return _same_target(again, target_type, target.id, request.field), True
    raise taken(name, request.field)


def _same_target(record: CustomDomain, target_type: str, target_id: str,
                 field: str) -> CustomDomain:
    if (record.target_type, record.target_id) != (target_type, target_id):
        raise errors.Conflict(
            f"{record.domain!r} is already attached to {record.target_type} "
            f"{record.target_id!r}.", code="DOMAIN_IN_USE", field=field,
            rule="an exact domain points at one deployment, computer or project",
            fix="Remove it there first, or attach another name.")
    return record


def get_domain(scope: Scope, domain_id: str, target_type: str | None = None,
               target_id: str | None = None) -> CustomDomain:
    record = scope.find(CustomDomain, id=domain_id) if isinstance(domain_id, str) else None
    if record is None or record.status == REMOVED or (
            target_type is not None and (record.target_type, record.target_id)
            != (target_type, target_id)):
        raise errors.NotFound(f"No domain {domain_id!r} here.", code="DOMAIN_NOT_FOUND",
                              fix="List the domains to find a valid id.")
    return record


def list_domains(scope: Scope, *, limit: int, cursor: str | None = None, offset: int = 0,
                 target_type: str | None = None, target_id: str | None = None,
                 status: str | None = None) -> Page[CustomDomain]:
    if target_type is not None and target_id is not None:
        target_of(scope, target_type, target_id)  # 404 for another organization's
    stmt = scope.select(CustomDomain).where(CustomDomain.status != REMOVED)
    if target_type is not None:
        stmt = stmt.where(CustomDomain.target_type == target_type)
    if target_id is not None:
        stmt = stmt.where(CustomDomain.target_id == target_id)
    if status is not None:
        stmt = stmt.where(CustomDomain.status == status)
    return paginate(scope.session, stmt, CustomDomain, limit=limit, cursor=cursor, offset=offset)


def remove_domain(scope: Scope, domain_id: str, now: datetime, target_type: str | None = None,
                  target_id: str | None = None) -> CustomDomain:
    """Detach it; the row stays as a tombstone, so whoever claims the name next proves it anew."""
    record = get_domain(scope, domain_id, target_type, target_id)
    events.record(scope, record.id, record.domain, record.status, REMOVED, now)
    record.status, record.removed_at = REMOVED, now
    scope.session.flush()
    return record


def verification_plan(scope: Scope, domain_id: str, proxy: str, challenge_label: str,
                      target_type: str | None = None, target_id: str | None = None) -> DomainPlan:
    record = get_domain(scope, domain_id, target_type, target_id)
    return DomainPlan(record.id, record.domain,
                      exact_records(record.tenant_id, record.domain, proxy=proxy,
                                    challenge_label=challenge_label))


def record_checks(scope: Scope, plan: DomainPlan, outcome: Outcome, now: datetime, *,
                  explicit: bool = True) -> CustomDomain:
    record = get_domain(scope, plan.id)
    outcome.store(record, now)
    before = record.status
    status, next_check = after_check(before, outcome.verified, record.created_at, now,
                                     explicit=explicit, inconclusive=outcome.inconclusive)
    if status == "verified" and before != "verified":
        # Proven: the name is this organization's. Only one organization can hold it verified
        # (a unique index decides races); other organizations' unproven claims on it end.
        check_unclaimed(scope, record.domain, "domain")

        def win() -> None:
            record.status, record.verified_at = "verified", record.verified_at or now

        apply_or_raise(scope.session, win, taken(record.domain, "domain"))
        end_other_claims(scope, record.domain, now, exact=True)
    record.status, record.next_check_at = status, next_check
    events.record(scope, record.id, record.domain, before, record.status, now,
                  record.failure_reason)
    scope.session.flush()
    return record


def verified_hosts(scope: Scope, target_type: str, target_ids: list[str]) -> dict[str, list[str]]:
    """Verified exact domains per target, oldest first (the first one wins in the URL engine)."""
    if not target_ids:
        return {}
    rows = scope.session.execute(
        select(CustomDomain.target_id, CustomDomain.domain)
        .where(CustomDomain.tenant_id == scope.tenant_id, CustomDomain.status == "verified",
               CustomDomain.target_type == target_type, CustomDomain.target_id.in_(target_ids))
        .order_by(CustomDomain.verified_at, CustomDomain.id)
    )
    found: dict[str, list[str]] = defaultdict(list)
    for target_id, domain in rows:
        found[target_id].append(domain)
    return found


def detach_all(scope: Scope, target_type: str, target_id: str, now: datetime) -> None:
    """The target is gone: its domains become tombstones (a new claim needs fresh proof)."""
    scope.session.execute(
        update(CustomDomain)
        .where(CustomDomain.tenant_id == scope.tenant_id, CustomDomain.target_type == target_type,
               CustomDomain.target_id == target_id, CustomDomain.status != REMOVED)
        .values(status=REMOVED, removed_at=now)
        .execution_options(synchronize_session=False)
    )


def domain_history(scope: Scope, domain_id: str) -> list[Any]:
    """A domain's events, removed ones included (the history outlives the attachment)."""
    record = scope.find(CustomDomain, id=domain_id) if isinstance(domain_id, str) else None
    if record is None:
        raise errors.NotFound(f"No domain {domain_id!r} here.", code="DOMAIN_NOT_FOUND",
                              fix="List the domains to find a valid id.")
    return events.history(scope, record.id)
