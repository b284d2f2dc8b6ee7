"""The organization's preview domain (spec §4, contract §13) and deployment domain (spec §5):
bare records, the same shape for both."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from hostplane.api.deps import RequestContext, needs
from hostplane.api.envelopes import Data
from hostplane.domains import events, tenant_domains
from hostplane.domains.models import DEPLOYMENT, PREVIEW
from hostplane.domains.schemas import DomainEventPublic, TenantDomainPublic, TenantDomainSet
from hostplane.domains.verification import run_checks

router = APIRouter(prefix="/tenant", tags=["organization domains"])

Reader = Annotated[RequestContext, needs("domain:read")]
Writer = Annotated[RequestContext, needs("domain:write")]
# The spec's GET …/verify stores what it finds: a write, whatever the method.
Verifier = Annotated[RequestContext, needs("domain:write", writes=True)]


def _routes(kind: str, path: str) -> None:
    label = f"{kind} domain"

    @router.get(path, response_model=TenantDomainPublic, name=f"get_{kind}_domain",
                summary=f"The organization's {label}: status, DNS records, what URLs use now")
    async def get_domain(ctx: Reader) -> TenantDomainPublic:
        view = await ctx.run(tenant_domains.get_tenant_domain, kind, ctx.env.platform)
        return TenantDomainPublic.of(view, ctx.settings)

    @router.put(path, response_model=TenantDomainPublic, name=f"set_{kind}_domain",
                summary=f"Set the {label}; URLs use it once it is verified")
    async def set_domain(body: TenantDomainSet, ctx: Writer) -> TenantDomainPublic:
        domain, field = body.value(kind)
        view = await ctx.run(tenant_domains.set_tenant_domain, kind, domain, ctx.env.platform,
                             ctx.now, field=field)
        return TenantDomainPublic.of(view, ctx.settings)

    @router.delete(path, response_model=TenantDomainPublic, name=f"delete_{kind}_domain",
                   summary=f"Remove the {label}; URLs fall back to the platform's (answers the "
                           "now unconfigured record)")
    async def delete_domain(ctx: Writer) -> TenantDomainPublic:
        view = await ctx.run(tenant_domains.delete_tenant_domain, kind, ctx.env.platform, ctx.now)
        return TenantDomainPublic.of(view, ctx.settings)


    async def verify(ctx: Verifier) -> TenantDomainPublic:
        ctx.verify_limiter.check(ctx.principal.tenant_id)
        plan = await ctx.run(tenant_domains.verification_plan, kind, ctx.settings.proxy_target,
                             ctx.settings.dns_challenge_label)
        # DNS is asked with no transaction open; the result is stored in a second, short one.
        outcome = await run_checks(ctx.env.resolver, plan.expected)
        view = await ctx.run(tenant_domains.record_checks, kind, plan, outcome, ctx.env.platform,
                             ctx.now)
        return TenantDomainPublic.of(view, ctx.settings)

    @router.get(f"{path}/events", response_model=Data[list[DomainEventPublic]],
                name=f"{kind}_domain_events", summary=f"The {label}'s history of states")
    async def history(ctx: Reader) -> Data[list[DomainEventPublic]]:
        found = await ctx.run(events.history, events.tenant_subject(kind))
        return Data(data=[DomainEventPublic.of(e) for e in found])

    summary = (f"Check the {label}'s DNS now (ownership TXT and routing CNAMEs); verified once "
               "both are in place")
    for method in ("POST", "GET"):  # Client quirk: the SDKs POST; the spec writes GET (§18 #2)
        router.add_api_route(f"{path}/verify", verify, methods=[method],
                             response_model=TenantDomainPublic, summary=summary,
                             name=f"verify_{kind}_domain_{method.lower()}")


_routes(PREVIEW, "/preview-domain")
_routes(DEPLOYMENT, "/deployment-domain")
