"""Who holds a name, across organizations and every kind of domain.

A proven name is a row in `domain_claims` (its primary key is the name), taken when a domain
becomes `verified` and given back when no domain of that organization with that name is verified
any more. Two organizations racing to prove one name: the key lets one in. Names beneath each
other (a wildcard and an exact name under it) can't share a key, so taking a claim first takes a
lock on the name's zone (PostgreSQL; SQLite has one writer at a time anyway).

Only columns of other organizations' rows are read or updated here, never objects, and what a
refusal says never names another organization or its domains.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, insert, or_, select, text, update

from hostplane import errors
from hostplane.db.base import new_id
from hostplane.db.helpers import try_insert
from hostplane.db.scope import Scope
from hostplane.domains.models import CustomDomain, DomainClaim, DomainEvent, TenantDomain
from hostplane.domains.verification import zone_of

ENDED = "claimed and proven by another organization"


def parents(name: str) -> list[str]:
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels) - 1)]


def check_unclaimed(scope: Scope, name: str, field: str, *, wildcard: bool = False) -> None:
    """Refuse a name another organization holds, or one under a wildcard it holds. A wildcard
    claim (an organization domain) is also refused over another organization's names beneath."""
    if held_elsewhere(scope, [name], wildcard=wildcard):
        raise taken(name, field)


def held_elsewhere(scope: Scope, names: list[str], *, wildcard: bool = False) -> set[str]:
    """Which of `names` another organization's claims rule out (one query for all)."""
    around = {n for name in names for n in [name, *parents(name)]}
    clash = DomainClaim.name.in_(around)
    if wildcard:
        clash = or_(clash, *(DomainClaim.name.like(f"%.{name}") for name in names))
    rows = scope.session.execute(
        select(DomainClaim.name, DomainClaim.wildcard)
        .where(DomainClaim.tenant_id != scope.tenant_id, clash)
    ).all()
    covering = {n for n, is_wildcard in rows if is_wildcard}
    exact = {n for n, _ in rows}
    refused = set()
    for name in names:
        if name in exact or any(p in covering for p in parents(name)) or (
                wildcard and any(n.endswith(f".{name}") for n in exact)):
            refused.add(name)
    return refused


def hold(scope: Scope, name: str, now: datetime, *, wildcard: bool) -> None:
    """Take `name` for this organization (it was just proven), or raise 409 DOMAIN_CLAIMED."""
    lock_zones(scope, [name])
    check_unclaimed(scope, name, "domain", wildcard=wildcard)
    mine = scope.find(DomainClaim, name=name)
    if mine is not None:
        mine.wildcard = mine.wildcard or wildcard
        return
    if not try_insert(
            scope.session, DomainClaim(tenant_id=scope.tenant_id, name=name, wildcard=wildcard,
                                       created_at=now)):
        raise taken(name, "domain")


def hold_exact(scope: Scope, names: list[str], now: datetime) -> set[str]:
    """Take many exact names at once (the worker's batch); answers the ones refused. A race lost
    on the key raises, and the caller falls back to one name at a time."""
    lock_zones(scope, names)
    refused = held_elsewhere(scope, names)
    mine = set(scope.session.scalars(
        select(DomainClaim.name).where(DomainClaim.tenant_id == scope.tenant_id,
                                       DomainClaim.name.in_(names))))
    new = [n for n in dict.fromkeys(names) if n not in refused and n not in mine]
    if new:
        scope.session.execute(insert(DomainClaim), [
            {"tenant_id": scope.tenant_id, "name": n, "wildcard": False, "created_at": now}
            for n in new])
    return refused


def release(scope: Scope, names: Iterable[str]) -> None:
    """Give back names no domain of this organization holds verified any more."""
    names = set(names)
    if not names:
        return
    still = set(scope.session.scalars(
        select(CustomDomain.domain).where(CustomDomain.tenant_id == scope.tenant_id,
                                          CustomDomain.status == "verified",
                                          CustomDomain.domain.in_(names))))
    wild = set(scope.session.scalars(
        select(TenantDomain.domain).where(TenantDomain.tenant_id == scope.tenant_id,
                                          TenantDomain.status == "verified",
                                          TenantDomain.domain.in_(names))))
    gone = names - still - wild
    scope.session.execute(
        delete(DomainClaim)
        .where(DomainClaim.tenant_id == scope.tenant_id, DomainClaim.name.in_(gone))
        .execution_options(synchronize_session=False))
    scope.session.execute(
        update(DomainClaim)
        .where(DomainClaim.tenant_id == scope.tenant_id, DomainClaim.name.in_(still - wild))
        .values(wildcard=False)
        .execution_options(synchronize_session=False))


def lock_zones(scope: Scope, names: Iterable[str]) -> None:
    """Serialize claims within a zone (PostgreSQL transaction locks, taken in a fixed order so two
    batches never wait on each other in a circle)."""
    if scope.session.get_bind().dialect.name != "postgresql":
        return
    for zone in sorted({zone_of(n) for n in names}):
        key = int.from_bytes(hashlib.sha256(f"hostplane-zone:{zone}".encode()).digest()[:8],
                             "big", signed=True)
        scope.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def taken(name: str, field: str) -> errors.Conflict:
    return errors.Conflict(
        f"{name!r} is not available: it, or a name around it, is held by another "
        "organization.",
        code="DOMAIN_CLAIMED", field=field,
        rule="a domain belongs to one organization; a verified one also covers every name "
             "under it",
        fix="Use another domain you control.")


def end_other_claims(scope: Scope, names: list[str], now: datetime, *, exact: bool) -> None:
    """Tombstone other organizations' unproven claims on `names` (and, for a verified wildcard
    domain, on every name under it): they could never be served. Each gets a `removed` event in
    its own organization's history, saying why."""
    covered = CustomDomain.domain.in_(names)
    if not exact:
        covered = or_(covered, *(CustomDomain.domain.like(f"%.{n}") for n in names))
    rivals = scope.session.execute(
        select(CustomDomain.id, CustomDomain.tenant_id, CustomDomain.domain, CustomDomain.status)
        .where(covered, CustomDomain.tenant_id != scope.tenant_id,
               CustomDomain.status.in_(("pending", "failed", "misconfigured")))
    ).all()
    if not rivals:
        return
    scope.session.execute(
        update(CustomDomain)
        .where(CustomDomain.id.in_([r.id for r in rivals]))
        .values(status="removed", removed_at=now, failure_reason=ENDED)
        .execution_options(synchronize_session=False))
    # Core insert: these rows belong to the other organizations (the session guard, rightly,
    # refuses ORM objects of another organization).
    scope.session.execute(insert(DomainEvent), [
        {"id": new_id(), "tenant_id": r.tenant_id, "subject": r.id, "domain": r.domain,
         "event": "removed", "from_status": r.status, "to_status": "removed", "detail": ENDED,
         "created_at": now} for r in rivals])


