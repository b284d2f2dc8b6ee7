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
from hostplane.domains.claims import (
    check_unclaimed,
    contest,
    contested,
    end_other_claims,
    hold,
    hold_exact,
    lock_zones,
    prove,
    release,
    taken,
)
from hostplane.domains.hostnames import canonical_domain
from hostplane.domains.models import CustomDomain
from hostplane.domains.tenant_domains import check_not_platform
from hostplane.domains.verification import Expected, Outcome, after_check, exact_records
from hostplane.resources.common import get_resource
from hostplane.resources.models import Computer, Deployment, Sandbox
from hostplane.resources.sandbox_schemas import DEFAULT_PREVIEW_PORT
from hostplane.tenancy.organizations import require_setup_of
from hostplane.tenancy.projects import get_project
from hostplane.urls import Platform

TARGETS = ("deployment", "computer", "project", "sandbox")
REMOVED = "removed"


@dataclass(frozen=True)
class DomainRequest:
    domain: str
    field: str
    redirect_policy: str = "none"
    external_workspace_id: str | None = None
    external_project_id: str | None = None
    external_user_id: str | None = None
    port: int | None = None  # a sandbox's preview port (default 5173); no other target has one


@dataclass(frozen=True)
class DomainPlan:
    id: str
    domain: str
    expected: list[Expected]


def target_of(scope: Scope, target_type: str, target_id: str) -> Any:
    """The deployment, computer, project or sandbox a domain is attached to (404 if not this
    org's)."""
    if target_type == "sandbox":
        return get_resource(scope, Sandbox, target_id, "sandbox")
    if target_type == "deployment":
        return get_resource(scope, Deployment, target_id, "deployment")
    if target_type == "computer":
        return get_resource(scope, Computer, target_id, "computer")
    return get_project(scope, target_id)


def add_domain(scope: Scope, target_type: str, target_id: str, request: DomainRequest,
               platform: Platform, now: datetime) -> tuple[CustomDomain, bool]:
    """Attach a name (pending until DNS proves it); the same name on the same target again answers
    the existing record (reused). A name held elsewhere is 409 DOMAIN_CLAIMED."""
    require_setup_of(scope)
    target = target_of(scope, target_type, target_id)
    port = _port(target_type, request.port)
    name = canonical_domain(request.domain, field=request.field)
    if len(name) + 21 > 253:  # the ownership record `_hostplane-challenge.{name}` must fit too
        raise errors.Invalid(f"{name!r} is too long to verify.", code="HOSTNAME_TOO_LONG",
                             field=request.field, rule="at most 232 characters, so the name of "
                             "its ownership TXT record fits in 253", fix="Use a shorter name.")
    check_not_platform(name, platform, request.field)
    check_unclaimed(scope, name, request.field)
    mine = scope.find(CustomDomain, domain=name, removed_at=None)
    if mine is not None:
        return _same_target(mine, target_type, target.id, request.field), True
    record = CustomDomain(
        tenant_id=scope.tenant_id, domain=name, target_type=target_type, target_id=target.id,
        status="pending", redirect_policy=request.redirect_policy, created_at=now, port=port,
        ownership_required=bool(contested(scope, [name])),
        external_workspace_id=request.external_workspace_id
        or getattr(target, "external_workspace_id", None),
        external_project_id=request.external_project_id
        or getattr(target, "external_project_id", None),
        external_user_id=request.external_user_id or getattr(target, "external_user_id", None),
    )
    if try_insert(scope.session, record):
        events.record(scope, record.id, name, None, "pending", now)
        contest(scope, name)
        return record, False
    again = scope.find(CustomDomain, domain=name, removed_at=None)
    if again is not None:  # this organization, concurrently
        return _same_target(again, target_type, target.id, request.field), True
    raise taken(name, request.field)


def _port(target_type: str, port: int | None) -> int | None:
    if target_type == "sandbox":
        return port or DEFAULT_PREVIEW_PORT
    if port is not None:
        raise errors.Invalid(f"A {target_type}'s domain has no port.", field="port",
                             rule="port is only for a sandbox's domains (its preview port)",
                             fix="Leave port out.")
    return None


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
    release(scope, [record.domain])
    return record


def verification_plan(scope: Scope, domain_id: str, proxy: str, challenge_label: str,
                      target_type: str | None = None, target_id: str | None = None) -> DomainPlan:
    record = get_domain(scope, domain_id, target_type, target_id)
    return DomainPlan(record.id, record.domain,
                      exact_records(record.tenant_id, record.domain, proxy=proxy,
                                    challenge_label=challenge_label, probe=True))


def verification_plans(scope: Scope, domain_ids: list[str], proxy: str,
                       challenge_label: str) -> list[DomainPlan]:
    """Plans for many of this organization's domains at once (the worker's batch); ids removed
    meanwhile are left out."""
    rows = scope.session.execute(
        select(CustomDomain.id, CustomDomain.domain)
        .where(CustomDomain.tenant_id == scope.tenant_id, CustomDomain.id.in_(domain_ids),
               CustomDomain.status != REMOVED))
    return [DomainPlan(row.id, row.domain,
                       exact_records(scope.tenant_id, row.domain, proxy=proxy,
                                     challenge_label=challenge_label, probe=True))
            for row in rows]


def record_batch(scope: Scope, results: list[tuple[DomainPlan, Outcome]], now: datetime) -> int:
    """The worker's results for many of this organization's domains, stored with a handful of
    statements (the rules are record_checks'). A domain removed or renamed meanwhile, or proven
    by another organization first, is left as it is and comes round again after its lease.
    Answers how many were stored. A lost race on a unique key raises IntegrityError: the caller
    rolls back and stores one domain at a time."""
    # Zones first, for every name in the batch, then the rows: a name another organization
    # proves meanwhile waits for us (or we for it), and we read its outcome, never a stale row.
    lock_zones(scope, [p.domain for p, _ in results])
    disputed = contested(scope, [p.domain for p, _ in results])
    rows = {r.id: r for r in scope.session.scalars(
        scope.select(CustomDomain).where(CustomDomain.id.in_([p.id for p, _ in results]),
                                         CustomDomain.status != REMOVED)
        .execution_options(populate_existing=True))}
    changes = []
    for plan, outcome in results:
        record = rows.get(plan.id)
        if record is None or record.domain != plan.domain:
            continue
        outcome = outcome.judged(
            contested=plan.domain in disputed, held=record.status == "verified")
        status, next_check = after_check(record.status, outcome.verified, record.created_at, now,
                                         explicit=False, inconclusive=outcome.inconclusive)
        changes.append((record, record.status, outcome, status, next_check))
    won = [r.domain for r, before, _, status, _ in changes
           if status == "verified" and before != "verified"]
    proofs = {r.domain: outcome.proof for r, before, outcome, status, _ in changes
              if status == "verified" and before != "verified"}
    refused = hold_exact(scope, proofs, now) if proofs else set()
    lost: list[str] = []
    for record, before, outcome, status, next_check in changes:
        if status == "verified" and before != "verified":
            if record.domain in refused:
                continue
            record.verified_at = record.verified_at or now
        elif before == "verified" and status != "verified":
            lost.append(record.domain)
        elif status == "verified":
            prove(scope, record.domain, outcome.proof)
        outcome.store(record, now)
        record.status, record.next_check_at = status, next_check
        events.record(scope, record.id, record.domain, before, status, now,
                      record.failure_reason)
    scope.session.flush()
    if won := [n for n in won if n not in refused]:
        end_other_claims(scope, won, now, exact=True)
    release(scope, lost)
    return len(changes) - len(refused)


def record_checks(scope: Scope, plan: DomainPlan, outcome: Outcome, now: datetime, *,
                  explicit: bool = True) -> CustomDomain:
    lock_zones(scope, [plan.domain])  # before any row is written: the order every claim takes
    record = get_domain(scope, plan.id)
    scope.session.refresh(record)
    outcome = outcome.judged(
        contested=bool(contested(scope, [record.domain])), held=record.status == "verified")
    outcome.store(record, now)
    before = record.status
    status, next_check = after_check(before, outcome.verified, record.created_at, now,
                                     explicit=explicit, inconclusive=outcome.inconclusive)
    if status == "verified" and before != "verified":
        # Proven: the name is this organization's. Only one organization can hold it verified
        # (a unique index decides races); other organizations' unproven claims on it end.
        hold(scope, record.domain, now, wildcard=False, proof=outcome.proof)

        def win() -> None:
            record.status, record.verified_at = "verified", record.verified_at or now

        apply_or_raise(scope.session, win, taken(record.domain, "domain"))
        end_other_claims(scope, [record.domain], now, exact=True)
    elif status == "verified":
        prove(scope, record.domain, outcome.proof)
    record.status, record.next_check_at = status, next_check
    events.record(scope, record.id, record.domain, before, record.status, now,
                  record.failure_reason)
    scope.session.flush()
    if before == "verified" and status != "verified":
        release(scope, [record.domain])  # misconfigured: whoever proves the name next may take it
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


def detach_all(scope: Scope, target_type: str, target_ids: Any, now: datetime) -> None:
    """The targets are going away: their domains become tombstones (a new claim needs fresh
    proof), each with a `removed` event, and the names they held are given back.
    `target_ids` is a list or a subquery of ids."""
    ids = [target_ids] if isinstance(target_ids, str) else target_ids
    rows = scope.session.execute(
        select(CustomDomain.id, CustomDomain.domain, CustomDomain.status)
        .where(CustomDomain.tenant_id == scope.tenant_id, CustomDomain.target_type == target_type,
               CustomDomain.target_id.in_(ids), CustomDomain.status != REMOVED)
    ).all()
    if not rows:
        return
    scope.session.execute(
        update(CustomDomain)
        .where(CustomDomain.id.in_([r.id for r in rows]))
        .values(status=REMOVED, removed_at=now)
        .execution_options(synchronize_session=False)
    )
    for row in rows:
        events.record(scope, row.id, row.domain, row.status, REMOVED, now,
                      f"its {target_type} was deleted")
    scope.session.flush()
    release(scope, [r.domain for r in rows if r.status == "verified"])


def domain_history(scope: Scope, domain_id: str) -> list[Any]:
    """A domain's events, removed ones included (the history outlives the attachment)."""
    record = scope.find(CustomDomain, id=domain_id) if isinstance(domain_id, str) else None
    if record is None:
        raise errors.NotFound(f"No domain {domain_id!r} here.", code="DOMAIN_NOT_FOUND",
                              fix="List the domains to find a valid id.")
    return events.history(scope, record.id)
