"""Who holds a name, across organizations and every kind of domain.

A proven name is a row in `domain_claims` (its primary key is the name), taken when a domain
becomes `verified` and given back when no domain of that organization with that name is verified
any more. A name nobody else holds, has held or claims (`contested`) is proven by its routing
records alone; otherwise the organization's TXT record is needed too, and a TXT proof takes a name
from another organization's routing-only claim (whoever can write TXT records there owns it).
Two organizations racing to prove one name: the key lets one in. Names beneath each
other (a wildcard and an exact name under it) can't share a key, so taking a claim first takes a
lock on the name's zone (PostgreSQL; SQLite has one writer at a time anyway).

Only columns of other organizations' rows are read or updated here, never objects, and what a
refusal says never names another organization or its domains.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, text, update

from hostplane import errors
from hostplane.db.base import new_id
from hostplane.db.helpers import try_insert
from hostplane.db.scope import Scope
from hostplane.domains.events import tenant_subject
from hostplane.domains.models import CustomDomain, DomainClaim, DomainEvent, TenantDomain
from hostplane.domains.verification import OWNERSHIP, ROUTING, zone_of

ENDED = "claimed and proven by another organization"
TAKEN_OVER = "another organization proved ownership with its TXT record"


def parents(name: str) -> list[str]:
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels) - 1)]


def check_unclaimed(scope: Scope, name: str, field: str, *, wildcard: bool = False) -> None:
    """Refuse to claim a name another organization holds by its TXT record, or one under a
    wildcard it holds so. A wildcard claim (an organization domain) is also refused over another
    organization's names beneath. A name held by routing alone may be claimed: the claim needs
    its TXT record, and proving it takes the name over."""
    if any(r.proof == OWNERSHIP for rows in blocking(scope, [name], wildcard=wildcard).values()
           for r in rows):
        raise taken(name, field)


def blocking(scope: Scope, names: list[str], *, wildcard: bool = False) -> dict[str, list[Any]]:
    """Per name of `names` that another organization's claims rule out, those claims (rows of
    tenant_id, name, proof): the name itself, a wildcard above it, or (for a wildcard) a name
    beneath it."""
    around = {n for name in names for n in [name, *parents(name)]}
    clash = DomainClaim.name.in_(around)
    if wildcard:
        clash = or_(clash, *(DomainClaim.name.like(f"%.{name}") for name in names))
    rows = scope.session.execute(
        select(DomainClaim.tenant_id, DomainClaim.name, DomainClaim.wildcard, DomainClaim.proof)
        .where(DomainClaim.tenant_id != scope.tenant_id, clash)
    ).all()
    found: dict[str, list[Any]] = {}
    for name in names:
        above = set(parents(name))
        hits = [r for r in rows if r.name == name or (r.wildcard and r.name in above) or (
            wildcard and r.name.endswith(f".{name}"))]
        if hits:
            found[name] = hits
    return found


def contested(scope: Scope, names: list[str]) -> set[str]:
    """Which of `names` are in a zone (the last two labels) where another organization holds,
    has held (a verified event in its history) or claims (a live domain row) any name: the name
    itself, one above it, beneath it or beside it. Only the others are proven by routing alone;
    a sibling counts because one DNS wildcard can route every name of a zone to us."""
    if not names:
        return set()
    zones = {zone_of(name) for name in names}

    def near(column: Any) -> Any:
        return _in_zones(column, zones)

    others = scope.tenant_id
    queries = [
        select(DomainClaim.name).where(DomainClaim.tenant_id != others, near(DomainClaim.name)),
        select(DomainEvent.domain).where(DomainEvent.tenant_id != others,
                                         DomainEvent.to_status == "verified",
                                         near(DomainEvent.domain)),
        select(CustomDomain.domain).where(CustomDomain.tenant_id != others,
                                          CustomDomain.status != "removed",
                                          near(CustomDomain.domain)),
        select(TenantDomain.domain).where(TenantDomain.tenant_id != others,
                                          near(TenantDomain.domain)),
        select(TenantDomain.previous_domain).where(TenantDomain.tenant_id != others,
                                                   near(TenantDomain.previous_domain)),
    ]
    taken_zones = {zone_of(n) for query in queries for n in scope.session.scalars(query) if n}
    return {name for name in names if zone_of(name) in taken_zones}


def _in_zones(column: Any, zones: set[str]) -> Any:
    """A name column's rows that are a zone of `zones`, or under one."""
    return or_(column.in_(zones), *(column.like(f"%.{zone}") for zone in zones))


def contest(scope: Scope, name: str) -> None:
    """This organization just claimed `name`: other organizations' domains in its zone that are
    not verified yet now need their TXT ownership record too (their next check re-decides it).
    A verified one is left alone: it loses its name only to a rival's TXT proof (take_over)."""
    zone = zone_of(name)
    for model in (CustomDomain, TenantDomain):
        scope.session.execute(
            update(model)
            .where(model.tenant_id != scope.tenant_id,
                   model.status.notin_(("removed", "verified")), _in_zones(model.domain, {zone}))
            .values(ownership_required=True)
            .execution_options(synchronize_session=False))


def hold(scope: Scope, name: str, now: datetime, *, wildcard: bool,
         proof: str = OWNERSHIP) -> None:
    """Take `name` for this organization (it was just proven), or raise 409 DOMAIN_CLAIMED."""
    lock_zones(scope, [name])
    take_over(scope, blocking(scope, [name], wildcard=wildcard), {name: proof}, now)
    if blocking(scope, [name], wildcard=wildcard):
        raise taken(name, "domain")
    mine = scope.find(DomainClaim, name=name)
    if mine is not None:
        mine.wildcard, mine.proof = mine.wildcard or wildcard, proof
        return
    if not try_insert(
            scope.session, DomainClaim(tenant_id=scope.tenant_id, name=name, wildcard=wildcard,
                                       proof=proof, created_at=now)):
        raise taken(name, "domain")


def hold_exact(scope: Scope, proofs: dict[str, str], now: datetime) -> set[str]:
    """Take many exact names at once (the worker's batch), each with what proved it; answers
    the ones refused. A race lost on the key raises, and the caller falls back to one name at a
    time."""
    names = list(proofs)
    lock_zones(scope, names)
    take_over(scope, blocking(scope, names), proofs, now)
    refused = set(blocking(scope, names))
    mine = {c.name: c for c in scope.session.scalars(
        scope.select(DomainClaim).where(DomainClaim.name.in_(names)))}
    for name, claim in mine.items():
        claim.proof = proofs[name]
    new = [n for n in names if n not in refused and n not in mine]
    if new:
        scope.session.execute(insert(DomainClaim), [
            {"tenant_id": scope.tenant_id, "name": n, "wildcard": False, "proof": proofs[n],
             "created_at": now} for n in new])
    return refused


def prove(scope: Scope, name: str, proof: str) -> None:
    """A domain still verified says how it is proven now: a name whose TXT record went away is
    held by routing alone, and another organization's TXT proof may take it."""
    scope.session.execute(
        update(DomainClaim)
        .where(DomainClaim.tenant_id == scope.tenant_id, DomainClaim.name == name)
        .values(proof=proof)
        .execution_options(synchronize_session=False))


def take_over(scope: Scope, blocked: dict[str, list[Any]], proofs: dict[str, str],
              now: datetime) -> None:
    """A name proven by its TXT record is taken from other organizations' claims that only
    routing proved (whoever can write TXT records there owns the name). Their domains with those
    names end (exact: `removed`; organization domains: `failed`, so URLs fall back), each with an
    event in its own organization's history saying why. A claim proven by TXT is never taken."""
    # Only claims at the name or beneath it: a proof of `team.site.com` says nothing about who
    # owns `site.com`, so a wildcard claim above is never taken (the name stays refused).
    names = [n for n, rows in blocked.items()
             if proofs.get(n) == OWNERSHIP and all(
                 r.proof == ROUTING and (r.name == n or r.name.endswith(f".{n}")) for r in rows)]
    rows = [r for n in names for r in blocked[n]]
    if not rows:
        return
    for tenant_id in {r.tenant_id for r in rows}:
        theirs = {r.name for r in rows if r.tenant_id == tenant_id}
        scope.session.execute(
            delete(DomainClaim)
            .where(DomainClaim.tenant_id == tenant_id, DomainClaim.name.in_(theirs))
            .execution_options(synchronize_session=False))
        _end_rows(scope, CustomDomain, tenant_id, theirs, now,
                  {"status": "removed", "removed_at": now})
        _end_rows(scope, TenantDomain, tenant_id, theirs, now,
                  {"status": "failed", "next_check_at": None})
        scope.session.execute(
            update(TenantDomain)
            .where(TenantDomain.tenant_id == tenant_id, TenantDomain.previous_domain.in_(theirs))
            .values(previous_domain=None)
            .execution_options(synchronize_session=False))


def _end_rows(scope: Scope, model: Any, tenant_id: str, names: set[str], now: datetime,
              values: dict[str, Any]) -> None:
    """End another organization's verified domains named `names` (Core statements: the session
    guard, rightly, refuses ORM objects of another organization)."""
    kind = [TenantDomain.kind] if model is TenantDomain else []
    ended = scope.session.execute(
        select(model.id, model.domain, model.status, *kind)
        .where(model.tenant_id == tenant_id, model.domain.in_(names), model.status == "verified")
    ).all()
    if not ended:
        return
    scope.session.execute(
        update(model).where(model.id.in_([r.id for r in ended]))
        .values(failure_reason=TAKEN_OVER, **values)
        .execution_options(synchronize_session=False))
    scope.session.execute(insert(DomainEvent), [
        {"id": new_id(), "tenant_id": tenant_id,
         "subject": tenant_subject(r.kind) if kind else r.id, "domain": r.domain,
         "event": values["status"], "from_status": r.status, "to_status": values["status"],
         "detail": TAKEN_OVER, "created_at": now} for r in ended])


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


