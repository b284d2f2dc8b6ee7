"""The organization's preview and deployment domains (spec §4 and §5): the records, the DNS they
need, what a check found, and what the URL engine uses today (a domain only once verified)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hostplane import errors
from hostplane.db.helpers import apply_or_raise, try_insert
from hostplane.db.scope import Scope
from hostplane.domains import events
from hostplane.domains.claims import (
    contest,
    contested,
    check_unclaimed,
    end_other_claims,
    hold,
    lock_zones,
    release,
    taken,
)
from hostplane.domains.hostnames import canonical_domain, is_within
from hostplane.domains.models import DEPLOYMENT, PREVIEW, TenantDomain
from hostplane.domains.verification import (
    OWNERSHIP,
    Expected,
    Outcome,
    after_check,
    wildcard_records,
)
from hostplane.tenancy.organizations import require_setup_of
from hostplane.urls import MAX_LABEL, OrganizationDomains, Platform, check_hostname

KINDS = (PREVIEW, DEPLOYMENT)


@dataclass(frozen=True)
class TenantDomainView:
    kind: str
    record: TenantDomain | None
    platform: Platform
    org_slug: str


def organization_domains(scope: Scope) -> OrganizationDomains:
    """The organization's slug and domains, as the URL engine takes them: from the reader's
    shared cache when it holds them (every sandbox read names its URLs), else two queries."""
    cache = scope.shared
    if cache is None:
        return _organization_domains(scope)
    key = ("organization_domains", scope.tenant_id)
    hit, found = cache.get(key)
    if hit:
        return found  # type: ignore[no-any-return]
    generation = cache.generation  # read first: a change committed meanwhile is not cached
    found = _organization_domains(scope)
    cache.put(key, found, generation=generation)
    return found


def _organization_domains(scope: Scope) -> OrganizationDomains:
    rows = {d.kind: d for d in scope.session.scalars(scope.select(TenantDomain))}
    preview, deployment = rows.get(PREVIEW), rows.get(DEPLOYMENT)
    preview_name = preview.serving_domain if preview else None
    deployment_name = deployment.serving_domain if deployment else None
    return OrganizationDomains(
        slug=scope.tenant().slug,
        preview_domain=preview_name, preview_verified=preview_name is not None,
        deployment_domain=deployment_name, deployment_verified=deployment_name is not None,
    )


def get_tenant_domain(scope: Scope, kind: str, platform: Platform) -> TenantDomainView:
    return TenantDomainView(kind, scope.find(TenantDomain, kind=kind), platform,
                            scope.tenant().slug)


def set_tenant_domain(
    scope: Scope, kind: str, domain: str, platform: Platform, now: datetime, *, field: str
) -> TenantDomainView:
    """Set (or replace) the domain. The same domain again keeps its status; a new one starts
    `pending`, and the engine keeps the fallback until it is verified."""
    require_setup_of(scope)
    name = canonical_domain(domain, field=field)
    _check_usable(kind, name, platform, field)
    check_unclaimed(scope, name, field, wildcard=True)
    record = scope.find(TenantDomain, kind=kind)
    if record is None:
        record = TenantDomain(kind=kind, domain=name, status="pending", tenant_id=scope.tenant_id,
                              created_at=now, ownership_required=bool(contested(scope, [name])))
        if try_insert(scope.session, record):
            events.record(scope, events.tenant_subject(kind), name, None, "pending", now)
            contest(scope, name)
            return TenantDomainView(kind, record, platform, scope.tenant().slug)
        record = scope.find(TenantDomain, kind=kind)  # set concurrently: change that one
        assert record is not None
    if record.domain != name:
        # A new name is a new claim: its checks, and the age its retries back off by, restart.
        events.record(scope, events.tenant_subject(kind), record.domain, record.status,
                      "removed", now, f"replaced by {name}")
        # A microsecond later, so the history lists the removal first.
        now = now + timedelta(microseconds=1)
        events.record(scope, events.tenant_subject(kind), name, None, "pending", now)
        old, serving = record.domain, record.serving_domain
        back = name == record.previous_domain  # back to the name still serving: verified again
        record.domain, record.created_at = name, now
        record.status = "verified" if back else "pending"
        record.previous_domain = None if back else serving
        record.last_checked_at = record.failure_reason = None
        record.verified_at = now if back else None
        record.next_check_at, record.checks = None, []
        record.ownership_required = bool(contested(scope, [name]))
        contest(scope, name)
        scope.session.flush()
        if old != serving:
            release(scope, [old])  # a name that never verified held no claim worth keeping
    scope.session.flush()
    return TenantDomainView(kind, record, platform, scope.tenant().slug)


@dataclass(frozen=True)
class VerificationPlan:
    domain: str
    expected: list[Expected]


def expected_records(kind: str, record: TenantDomain, proxy: str,
                     challenge_label: str, *, probe: bool = False) -> list[Expected]:
    """A preview domain needs `*.sandbox` (every preview is under it); the spec's `*` is listed
    as recommended only, since no company can point `*` of its main domain at us. A deployment
    domain needs `*`. Both prove ownership with a TXT record when the name is contested."""
    if kind == PREVIEW:
        return wildcard_records(record.tenant_id, record.domain, ["*", "*.sandbox"],
                                proxy=proxy, challenge_label=challenge_label,
                                optional=frozenset({"*"}),
                                ownership_required=record.ownership_required, probe=probe)
    return wildcard_records(record.tenant_id, record.domain, ["*"], proxy=proxy,
                            challenge_label=challenge_label,
                            ownership_required=record.ownership_required, probe=probe)


def verification_plan(scope: Scope, kind: str, proxy: str,
                      challenge_label: str) -> VerificationPlan:
    record = scope.find(TenantDomain, kind=kind)
    if record is None:
        raise errors.NotFound(
            f"This organization has no {kind} domain to verify.",
            code=f"{kind.upper()}_DOMAIN_NOT_SET",
            fix=f"Set one first: PUT /api/v1/tenant/{kind}-domain.")
    return VerificationPlan(record.domain,
                            expected_records(kind, record, proxy, challenge_label, probe=True))


def record_checks(scope: Scope, kind: str, plan: VerificationPlan, outcome: Outcome,
                  platform: Platform, now: datetime, *, explicit: bool = True) -> TenantDomainView:
    """Store what DNS showed. Both proofs → verified (if no other organization holds the name);
    otherwise pending, or misconfigured when it was verified before (the fallback is used again)."""
    lock_zones(scope, [plan.domain])  # before any row is written: the order every claim takes
    record = scope.find(TenantDomain, kind=kind)
    if record is not None:
        scope.session.refresh(record)
    if record is None or record.domain != plan.domain:
        raise errors.Conflict(f"The {kind} domain changed while it was being checked.",
                              code="RETRY", fix="Verify again.")
    outcome = outcome.judged(
        contested=bool(contested(scope, [record.domain])), held=record.status == "verified")
    outcome.store(record, now)
    before = record.status
    if outcome.verified:
        mark_verified(scope, kind, now, proof=outcome.proof)
    record.status, record.next_check_at = after_check(
        before, outcome.verified, record.created_at, now, explicit=explicit,
        inconclusive=outcome.inconclusive)
    events.record(scope, events.tenant_subject(kind), record.domain, before, record.status, now,
                  record.failure_reason)
    scope.session.flush()
    if before == "verified" and record.status != "verified":
        release(scope, [record.domain])  # misconfigured: whoever proves the name next may take it
    return TenantDomainView(kind, record, platform, scope.tenant().slug)


def delete_tenant_domain(scope: Scope, kind: str, platform: Platform,
                         now: datetime) -> TenantDomainView:
    record = scope.find(TenantDomain, kind=kind)
    if record is not None:
        events.record(scope, events.tenant_subject(kind), record.domain, record.status,
                      "removed", now)
        scope.session.delete(record)
        scope.session.flush()
        release(scope, [name for name in (record.domain, record.previous_domain) if name])
    return TenantDomainView(kind, None, platform, scope.tenant().slug)


def mark_verified(scope: Scope, kind: str, now: datetime,
                  proof: str = OWNERSHIP) -> TenantDomain | None:
    """Record a passed verification (the domain lifecycle, or an operator vouching for DNS)."""
    record = scope.find(TenantDomain, kind=kind)
    if record is None:
        return None
    hold(scope, record.domain, now, wildcard=True, proof=proof)

    def verify() -> None:
        record.status, record.verified_at, record.last_checked_at = "verified", now, now
        record.failure_reason = None

    apply_or_raise(scope.session, verify, taken(record.domain, "domain"))
    end_other_claims(scope, [record.domain], now, exact=False)
    if record.previous_domain:  # the replacement verified: the old name is given back
        previous, record.previous_domain = record.previous_domain, None
        scope.session.flush()
        release(scope, [previous])
    return record


def _check_usable(kind: str, name: str, platform: Platform, field: str) -> None:
    check_not_platform(name, platform, field)
    # The longest names the engine will build under this domain must still be valid DNS names.
    longest = "x" * MAX_LABEL
    longest_host = f"65535-{longest[:57]}.sandbox.{name}" if kind == PREVIEW else f"{longest}.{name}"
    check_hostname(longest_host, field=field)


def check_not_platform(name: str, platform: Platform, field: str) -> None:
    for own in {platform.managed_domain, platform.preview_domain, platform.computer_domain}:
        if is_within(name, own) or is_within(own, name):
            raise errors.Invalid(
                f"{name!r} overlaps the platform's own domain {own!r}.",
                code="DOMAIN_RESERVED",
                field=field,
                rule="an organization domain may not be, contain or sit under a platform domain",
                fix="Use a domain your organization owns, e.g. 'apps.yourcompany.com'.",
            )
