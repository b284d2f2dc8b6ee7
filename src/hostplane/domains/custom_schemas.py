"""Request and response shapes for exact custom domains (contract §10.2, §11.2, §12)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from hostplane import errors
from hostplane.domains.custom_domains import DomainRequest
from hostplane.domains.hostnames import unicode_name
from hostplane.domains.models import CustomDomain
from hostplane.domains.schemas import DnsRecord, DnsRecordCheck, DomainError, last_check
from hostplane.domains.verification import exact_records
from hostplane.inputs import Text
from hostplane.settings import Settings

DomainText = Text(1, 300)
Redirect = Literal["none", "www_to_apex", "apex_to_www"]
# Client quirk: `status` stays in the enum the official clients accept (contract §11.2);
# `state` has the full lifecycle.
PUBLIC_STATUS = {"pending": "pending", "verified": "verified", "misconfigured": "failed",
                 "failed": "failed", "removed": "removed"}


# Client quirk: computers' domains are registered with `fqdn` by the Python and Go clients,
# deployments' with `domain` (contract §18 #5, #6).
class DomainAdd(BaseModel):
    """`domain` (spec, TypeScript, deployments) or `fqdn` (Python and Go computers, Go flat)."""

    model_config = ConfigDict(extra="ignore")

    domain: DomainText | None = None
    fqdn: DomainText | None = None
    redirect_policy: Redirect = "none"
    port: Annotated[int, Field(ge=1, le=65535)] | None = Field(
        None, description="A sandbox's domain: the preview port it serves (default 5173)")
    external_workspace_id: Text(1, 200) | None = None  # type: ignore[valid-type]
    external_project_id: Text(1, 200) | None = None  # type: ignore[valid-type]
    external_user_id: Text(1, 200) | None = None  # type: ignore[valid-type]

    def request(self) -> DomainRequest:
        field = "domain" if self.domain else "fqdn"
        value = self.domain or self.fqdn
        if not value:
            raise errors.Invalid("No domain given.", field="domain", rule="send domain (or fqdn)",
                                 fix='Send {"domain": "program.example.com"}.')
        return DomainRequest(value, field, self.redirect_policy, self.external_workspace_id,
                             self.external_project_id, self.external_user_id, self.port)


class FlatDomainAdd(DomainAdd):
    """POST /custom-domains: TypeScript's resource_type/resource_id or Go's target_type/target_id."""

    resource_type: Literal["deployment", "computer", "project", "sandbox"] | None = None
    resource_id: Text(1, 64) | None = None  # type: ignore[valid-type]
    target_type: Literal["deployment", "computer", "project", "sandbox"] | None = None
    target_id: Text(1, 64) | None = None  # type: ignore[valid-type]

    def target(self) -> tuple[str, str]:
        kind, ident = self.resource_type or self.target_type, self.resource_id or self.target_id
        if not kind or not ident:
            raise errors.Invalid("The domain's target is missing.", field="resource_type",
                                 rule="send resource_type and resource_id (or target_type and "
                                      "target_id)",
                                 fix='Add "resource_type": "deployment", "resource_id": "<id>".')
        return kind, ident


class CustomDomainPublic(BaseModel):
    id: str
    object: str = "custom_domain"
    tenant_id: str
    domain: str
    fqdn: str
    domain_unicode: str
    status: str
    state: str
    verified: bool
    target_type: str
    target_id: str
    resource_type: str
    resource_id: str
    deployment_id: str | None
    computer_id: str | None
    project_id: str | None
    sandbox_id: str | None
    port: int | None
    redirect_policy: str
    verification_target: str
    verification_token: str
    instructions: str
    dns_records: list[DnsRecordCheck]
    records: list[DnsRecord]
    errors: list[DomainError]
    external_workspace_id: str | None
    external_project_id: str | None
    external_user_id: str | None
    verified_at: datetime | None
    last_checked_at: datetime | None
    next_check_at: datetime | None
    created_at: datetime
    inserted_at: datetime
    updated_at: datetime
    reused: bool = False

    @classmethod
    def of(cls, d: CustomDomain, settings: Settings, *, reused: bool = False) -> CustomDomainPublic:
        expected = exact_records(d.tenant_id, d.domain, proxy=settings.proxy_target,
                                 challenge_label=settings.dns_challenge_label,
                                 ownership_required=d.ownership_required)
        checks, problems = last_check(expected, d.checks)
        problems = problems if d.last_checked_at and d.status != "verified" else []
        token = next(e.value for e in expected if e.purpose == "ownership")
        ids = {f"{t}_id": d.target_id if d.target_type == t else None
               for t in ("deployment", "computer", "project", "sandbox")}
        return cls(
            id=d.id, tenant_id=d.tenant_id, domain=d.domain, fqdn=d.domain,
            domain_unicode=unicode_name(d.domain), status=PUBLIC_STATUS.get(d.status, "pending"),
            state=d.status, verified=d.status == "verified", target_type=d.target_type,
            target_id=d.target_id, resource_type=d.target_type, resource_id=d.target_id, **ids,
            port=d.port, redirect_policy=d.redirect_policy, verification_target=settings.proxy_target,
            verification_token=token,
            instructions="; ".join(
                f"Add {c.type} {c.name} → {c.value}" + (" (ALIAS/ANAME, or the A records of "
                                                          f"{c.value})" if c.type == "ALIAS" else "")
                for c in checks if c.required),
            dns_records=checks,
            records=[DnsRecord(type=c.type, name=c.host, fqdn=c.name, value=c.value)
                     for c in checks],
            errors=[DomainError(**p) for p in problems],
            external_workspace_id=d.external_workspace_id,
            external_project_id=d.external_project_id, external_user_id=d.external_user_id,
            verified_at=d.verified_at, last_checked_at=d.last_checked_at,
            next_check_at=d.next_check_at, created_at=d.created_at, inserted_at=d.created_at,
            updated_at=d.updated_at, reused=reused,
        )
