"""The organization's preview and deployment domains (spec §4 and §5): the records, and what the
URL engine should use today. DNS verification itself is the domain lifecycle's job; it ends in
`mark_verified`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hostplane import errors
from hostplane.db.scope import Scope
from hostplane.domains.hostnames import canonical_domain, is_within
from hostplane.domains.models import DEPLOYMENT, PREVIEW, TenantDomain
from hostplane.tenancy.organizations import require_setup
from hostplane.urls import MAX_LABEL, OrganizationDomains, Platform, check_hostname

KINDS = (PREVIEW, DEPLOYMENT)


@dataclass(frozen=True)
class TenantDomainView:
    kind: str
    record: TenantDomain | None
    platform: Platform
    org_slug: str


def organization_domains(scope: Scope) -> OrganizationDomains:
    """The organization's slug and domains, as the URL engine takes them."""
    rows = {d.kind: d for d in scope.session.scalars(scope.select(TenantDomain))}
    preview, deployment = rows.get(PREVIEW), rows.get(DEPLOYMENT)
    return OrganizationDomains(
        slug=scope.tenant().slug,
        preview_domain=preview.domain if preview else None,
        preview_verified=bool(preview and preview.status == "verified"),
        deployment_domain=deployment.domain if deployment else None,
        deployment_verified=bool(deployment and deployment.status == "verified"),
    )


def get_tenant_domain(scope: Scope, kind: str, platform: Platform) -> TenantDomainView:
    return TenantDomainView(kind, scope.find(TenantDomain, kind=kind), platform,
                            scope.tenant().slug)


def set_tenant_domain(
    scope: Scope, kind: str, domain: str, platform: Platform, *, field: str
) -> TenantDomainView:
    """Set (or replace) the domain. The same domain again keeps its status; a new one starts
    `pending`, and the engine keeps the fallback until it is verified."""
    require_setup(scope.tenant())
    name = canonical_domain(domain, field=field)
    _check_usable(kind, name, platform, field)
    record = scope.find(TenantDomain, kind=kind)
    if record is None:
        record = scope.add(TenantDomain(kind=kind, domain=name, status="pending"))
    elif record.domain != name:
        record.domain, record.status = name, "pending"
        record.verified_at = record.last_checked_at = record.failure_reason = None
    scope.session.flush()
    return TenantDomainView(kind, record, platform, scope.tenant().slug)


def delete_tenant_domain(scope: Scope, kind: str, platform: Platform) -> TenantDomainView:
    record = scope.find(TenantDomain, kind=kind)
    if record is not None:
        scope.session.delete(record)
        scope.session.flush()
    return TenantDomainView(kind, None, platform, scope.tenant().slug)


def mark_verified(scope: Scope, kind: str, now: datetime) -> TenantDomain | None:
    """Record a passed verification (the domain lifecycle, or an operator vouching for DNS)."""
    record = scope.find(TenantDomain, kind=kind)
    if record is None:
        return None
    record.status, record.verified_at, record.last_checked_at = "verified", now, now
    record.failure_reason = None
    scope.session.flush()
    return record


def _check_usable(kind: str, name: str, platform: Platform, field: str) -> None:
    for own in {platform.managed_domain, platform.preview_domain, platform.computer_domain}:
        if is_within(name, own) or is_within(own, name):
            raise errors.Invalid(
                f"{name!r} overlaps the platform's own domain {own!r}.",
                code="DOMAIN_RESERVED",
                field=field,
                rule="an organization domain may not be, contain or sit under a platform domain",
                fix="Use a domain your organization owns, e.g. 'apps.yourcompany.com'.",
            )
    # The longest names the engine will build under this domain must still be valid DNS names.
    longest = "x" * MAX_LABEL
    longest_host = f"65535-{longest[:57]}.sandbox.{name}" if kind == PREVIEW else f"{longest}.{name}"
    check_hostname(longest_host, field=field)
