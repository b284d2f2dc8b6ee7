"""Request and response shapes for the organization's preview and deployment domains."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from hostplane import errors
from hostplane.domains.models import PREVIEW
from hostplane.domains.tenant_domains import TenantDomainView
from hostplane.inputs import Text

DomainText = Text(1, 300)


class TenantDomainSet(BaseModel):
    """`preview_domain` (Python, TypeScript, the spec), `deployment_domain`, or `domain` (Go)."""

    model_config = ConfigDict(extra="ignore")

    preview_domain: DomainText | None = None
    deployment_domain: DomainText | None = None
    domain: DomainText | None = None

    def value(self, kind: str) -> tuple[str, str]:
        """The domain given and the field it came in."""
        own = "preview_domain" if kind == PREVIEW else "deployment_domain"
        for field in (own, "domain"):
            value = getattr(self, field)
            if value:
                return value, field
        raise errors.Invalid(
            f"No {kind} domain given.", field=own, rule=f"send {own} (or domain)",
            fix=f'Send {{"{own}": "apps.example.com"}}.',
        )


class DnsRecord(BaseModel):
    type: str
    name: str
    fqdn: str
    value: str


class TenantDomainPublic(BaseModel):
    """One record for GET, PUT and (later) verify; bare, as every official client reads it."""

    kind: str
    domain: str | None
    preview_domain: str | None = None
    deployment_domain: str | None = None
    default_domain: str
    active_domain: str
    status: str
    dns_status: str
    verified: bool
    verified_at: datetime | None
    last_checked_at: datetime | None
    failure_reason: str | None
    cname_target: str
    target: str
    records: list[DnsRecord]
    dns_instructions: list[DnsRecord]
    instructions: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, view: TenantDomainView, proxy_target: str) -> TenantDomainPublic:
        record, platform = view.record, view.platform
        default = (platform.preview_domain if view.kind == PREVIEW
                   else f"{view.org_slug}.{platform.managed_domain}")
        status = record.status if record else "unconfigured"
        verified = status == "verified"
        records = _records(view.kind, record.domain, proxy_target) if record else []
        fields: dict[str, Any] = {f"{view.kind}_domain": record.domain if record else None}
        return cls(
            kind=view.kind,
            domain=record.domain if record else None,
            **fields,
            default_domain=default,
            active_domain=record.domain if record and verified else default,
            status=status,
            dns_status=status,
            verified=verified,
            verified_at=record.verified_at if record else None,
            last_checked_at=record.last_checked_at if record else None,
            failure_reason=record.failure_reason if record else None,
            cname_target=proxy_target,
            target=proxy_target,
            records=records,
            dns_instructions=records,
            instructions="; ".join(f"Add {r.type} {r.fqdn} → {r.value}" for r in records) or None,
            created_at=record.created_at if record else None,
            updated_at=record.updated_at if record else None,
        )


def _records(kind: str, domain: str, target: str) -> list[DnsRecord]:
    """Spec §4: a preview domain needs `*` and `*.sandbox`; §5: a deployment domain needs `*`."""
    names = ["*", "*.sandbox"] if kind == PREVIEW else ["*"]
    return [DnsRecord(type="CNAME", name=n, fqdn=f"{n}.{domain}", value=target) for n in names]
