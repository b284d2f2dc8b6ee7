"""Request and response shapes for the organization's preview and deployment domains."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from hostplane import errors
from hostplane.domains.hostnames import unicode_name
from hostplane.domains.models import PREVIEW
from hostplane.domains.tenant_domains import TenantDomainView, expected_records
from hostplane.domains.verification import Check, Expected, Outcome
from hostplane.inputs import Text
from hostplane.settings import Settings

DomainText = Text(1, 300)


# Client quirk: Go and Elixir send {"domain"} where Python, TypeScript and the spec send
# {"preview_domain"} (contract §18 #3).
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
    """The contract's short form (§13): `name` relative to the organization's domain."""

    type: str
    name: str
    fqdn: str
    value: str


class DnsRecordCheck(BaseModel):
    """One record to create, and what the last check saw."""

    purpose: str  # routing | ownership | certificate
    type: str
    name: str  # fully qualified
    host: str  # as typed into a DNS provider's form
    value: str
    required: bool
    status: str  # missing | ok | conflict (missing until first checked)
    observed: list[str]


def last_check(expected: list[Expected],
               stored: list[dict[str, Any]]) -> tuple[list[DnsRecordCheck], list[dict[str, str]]]:
    """The records to create, each with what the last stored check saw of it (missing until
    checked), and the errors that check reported."""
    seen = {(c["type"], c["name"]): c for c in stored or []}
    checks = [DnsRecordCheck(
        purpose=e.purpose, type=e.type, name=e.name, host=e.host, value=e.value,
        required=e.required, status=seen.get((e.type, e.name), {}).get("status", "missing"),
        observed=seen.get((e.type, e.name), {}).get("observed", []),
    ) for e in expected]
    outcome = Outcome(tuple(Check(e, c.status, tuple(c.observed))
                            for e, c in zip(expected, checks, strict=True)))
    return checks, outcome.errors()


class DomainError(BaseModel):
    code: str
    message: str
    fix: str
    actor: str


class TenantDomainPublic(BaseModel):
    """One record for GET, PUT and verify; bare, as every official client reads it."""

    kind: str
    domain: str | None
    domain_unicode: str | None
    preview_domain: str | None = None
    deployment_domain: str | None = None
    default_domain: str
    active_domain: str
    status: str  # unconfigured | pending | verified | failed (what the clients accept)
    state: str  # the full lifecycle: … | misconfigured
    dns_status: str
    verified: bool
    verified_at: datetime | None
    last_checked_at: datetime | None
    next_check_at: datetime | None
    failure_reason: str | None
    cname_target: str
    target: str
    verification_target: str
    records: list[DnsRecord]
    dns_instructions: list[DnsRecord]
    dns_records: list[DnsRecordCheck]
    errors: list[DomainError]
    instructions: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, view: TenantDomainView, settings: Settings) -> TenantDomainPublic:
        record, platform, proxy = view.record, view.platform, settings.proxy_target
        default = (platform.preview_domain if view.kind == PREVIEW
                   else f"{view.org_slug}.{platform.managed_domain}")
        status = record.status if record else "unconfigured"
        verified = status == "verified"
        expected = (expected_records(view.kind, record, proxy, settings.dns_challenge_label)
                    if record else [])
        checks, problems = last_check(expected, record.checks if record else [])
        short = [DnsRecord(type=c.type, name=c.name[: -len(record.domain) - 1] or "@",
                           fqdn=c.name, value=c.value)
                 for c in checks if c.required and record is not None]
        problems = problems if record and record.last_checked_at else []
        fields: dict[str, Any] = {f"{view.kind}_domain": record.domain if record else None}
        return cls(
            kind=view.kind,
            domain=record.domain if record else None,
            domain_unicode=unicode_name(record.domain) if record else None,
            **fields,
            default_domain=default,
            active_domain=(record.serving_domain if record else None) or default,
            status="failed" if status == "misconfigured" else status,
            state=status,
            dns_status=status,
            verified=verified,
            verified_at=record.verified_at if record else None,
            last_checked_at=record.last_checked_at if record else None,
            next_check_at=record.next_check_at if record else None,
            failure_reason=record.failure_reason if record else None,
            cname_target=proxy,
            target=proxy,
            verification_target=proxy,
            records=short,
            dns_instructions=short,
            dns_records=checks,
            errors=[DomainError(**p) for p in problems],
            instructions="; ".join(f"Add {c.type} {c.name} → {c.value}"
                                   for c in checks if c.required) or None,
            created_at=record.created_at if record else None,
            updated_at=record.updated_at if record else None,
        )


class DomainEventPublic(BaseModel):
    id: str
    domain: str
    event: str
    from_status: str | None
    to_status: str
    detail: str | None
    created_at: datetime

    @classmethod
    def of(cls, e: Any) -> DomainEventPublic:
        return cls(id=e.id, domain=e.domain, event=e.event, from_status=e.from_status,
                   to_status=e.to_status, detail=e.detail, created_at=e.created_at)
