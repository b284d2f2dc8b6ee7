"""Who holds a name: the checks every claim and verification goes through, across organizations.

Only rows' columns are read or updated here (never other organizations' objects), and what a
refusal says never names another organization or its domains.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update

from hostplane import errors
from hostplane.db.scope import Scope
from hostplane.domains.models import CustomDomain, TenantDomain


def check_unclaimed(scope: Scope, name: str, field: str, *, wildcard: bool = False) -> None:
    """Refuse a name another organization has proven: an exact domain equal to it, or an
    organization domain at, above or below it. A wildcard claim (an organization domain) is also
    refused over another organization's proven exact domain beneath it."""
    labels = name.split(".")
    parents = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    # Columns only: rows of other organizations are never loaded as objects into this session.
    claimed = scope.session.scalar(
        select(TenantDomain.domain).where(
            TenantDomain.tenant_id != scope.tenant_id,
            TenantDomain.status == "verified",
            or_(TenantDomain.domain.in_(parents), TenantDomain.domain.like(f"%.{name}")),
        ).limit(1)
    )
    exact = CustomDomain.domain == name
    if wildcard:
        exact = or_(exact, CustomDomain.domain.like(f"%.{name}"))
    held = scope.session.scalar(
        select(CustomDomain.domain).where(
            CustomDomain.tenant_id != scope.tenant_id, CustomDomain.status == "verified", exact,
        ).limit(1)
    )
    if claimed is not None or held is not None:
        raise taken(name, field)


def taken(name: str, field: str) -> errors.Conflict:
    return errors.Conflict(
        f"{name!r} is not available: it, or a name around it, is held by another "
        "organization.",
        code="DOMAIN_CLAIMED", field=field,
        rule="a domain belongs to one organization; a verified one also covers every name "
             "under it",
        fix="Use another domain you control.")




def end_other_claims(scope: Scope, name: str, now: datetime, *, exact: bool) -> None:
    """Tombstone other organizations' unproven claims on `name` (and, for a verified wildcard
    domain, on every name under it): they could never be served."""
    covered = CustomDomain.domain == name if exact else or_(
        CustomDomain.domain == name, CustomDomain.domain.like(f"%.{name}"))
    scope.session.execute(
        update(CustomDomain)
        .where(covered, CustomDomain.tenant_id != scope.tenant_id,
               CustomDomain.status.in_(("pending", "failed", "misconfigured")))
        .values(status="removed", removed_at=now,
                failure_reason="claimed and proven by another organization")
        .execution_options(synchronize_session=False)
    )
