"""The organization's preview domain (spec §4, contract §13) and deployment domain (spec §5):
bare records, the same shape for both."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from hostplane.api.deps import RequestContext, needs
from hostplane.domains import tenant_domains
from hostplane.domains.models import DEPLOYMENT, PREVIEW
from hostplane.domains.schemas import TenantDomainPublic, TenantDomainSet

router = APIRouter(prefix="/tenant", tags=["organization domains"])

Reader = Annotated[RequestContext, needs("domain:read")]
Writer = Annotated[RequestContext, needs("domain:write")]


def _routes(kind: str, path: str) -> None:
    label = f"{kind} domain"

    @router.get(path, response_model=TenantDomainPublic, name=f"get_{kind}_domain",
                summary=f"The organization's {label}: status, DNS records, what URLs use now")
    async def get_domain(ctx: Reader) -> TenantDomainPublic:
        view = await ctx.run(tenant_domains.get_tenant_domain, kind, ctx.env.platform)
        return TenantDomainPublic.of(view, ctx.settings.proxy_target)

    @router.put(path, response_model=TenantDomainPublic, name=f"set_{kind}_domain",
                summary=f"Set the {label}; URLs use it once it is verified")
    async def set_domain(body: TenantDomainSet, ctx: Writer) -> TenantDomainPublic:
        domain, field = body.value(kind)
        view = await ctx.run(tenant_domains.set_tenant_domain, kind, domain, ctx.env.platform,
                             field=field)
        return TenantDomainPublic.of(view, ctx.settings.proxy_target)

    @router.delete(path, response_model=TenantDomainPublic, name=f"delete_{kind}_domain",
                   summary=f"Remove the {label}; URLs fall back to the platform's (answers the "
                           "now unconfigured record)")
    async def delete_domain(ctx: Writer) -> TenantDomainPublic:
        view = await ctx.run(tenant_domains.delete_tenant_domain, kind, ctx.env.platform)
        return TenantDomainPublic.of(view, ctx.settings.proxy_target)


_routes(PREVIEW, "/preview-domain")
_routes(DEPLOYMENT, "/deployment-domain")
