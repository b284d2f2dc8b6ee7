"""Organization identity (spec §1): read it, set it up once, see whether setup is required."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from hostplane import errors
from hostplane.api.deps import RequestContext, needs
from hostplane.api.envelopes import Data
from hostplane.db.scope import Scope
from hostplane.tenancy import checklist
from hostplane.tenancy.organizations import own_organization, setup_organization
from hostplane.tenancy.schemas import OrganizationPublic, OrganizationUpdate

router = APIRouter(tags=["organizations"])

Reader = Annotated[RequestContext, needs("organization:read")]
Manager = Annotated[RequestContext, needs("organization:manage")]


def _current(scope: Scope) -> OrganizationPublic:
    return OrganizationPublic.of(scope.tenant())


@router.get("/platform/tenants", response_model=Data[list[OrganizationPublic]],
            summary="The organizations this credential can act for")
async def list_organizations(ctx: Reader) -> Data[list[OrganizationPublic]]:
    return Data(data=[await ctx.run(_current)])


# Client quirk: `organizations.current()` decodes this bare, with name and slug (§18 #1).
@router.get("/platform/tenants/current", response_model=OrganizationPublic,
            summary="The caller's organization, with setup_required")
async def current_organization(ctx: Reader) -> OrganizationPublic:
    return await ctx.run(_current)


@router.post("/platform/tenants/{id_or_slug}/switch", summary="Switch organization (sessions only)")
async def switch_organization(id_or_slug: str, ctx: Reader) -> None:
    await ctx.run(own_organization, id_or_slug)
    raise errors.Forbidden(
        "An API key belongs to one organization and cannot switch.",
        code="SWITCH_REQUIRES_SESSION",
        fix="Use a key of the other organization instead.",
    )


@router.get("/tenants/{tenant_id}", response_model=OrganizationPublic, summary="One organization")
async def get_organization(tenant_id: str, ctx: Reader) -> OrganizationPublic:
    return OrganizationPublic.of(await ctx.run(own_organization, tenant_id))


@router.put("/tenants/{tenant_id}", response_model=OrganizationPublic,
            summary="Set the organization name once; the permanent slug derives from it")
@router.patch("/tenants/{tenant_id}", response_model=OrganizationPublic,
              summary="Same as PUT: set the organization name once", name="patch_organization")
async def update_organization(
    tenant_id: str, body: OrganizationUpdate, ctx: Manager
) -> OrganizationPublic:
    tenant = await ctx.run(setup_organization, tenant_id, name=body.name, slug=body.slug,
                           now=ctx.now)
    return OrganizationPublic.of(tenant)


@router.get("/tenant/setup", response_model=Data[dict[str, Any]],
            summary="The setup checklist: each step done, to do or optional, from real state")
async def setup_checklist(ctx: Reader) -> Data[dict[str, Any]]:
    return Data(data=await ctx.run(checklist.checklist))


@router.get("/tenant/plan", response_model=Data[dict[str, Any]],
            summary="Plan and limits of the organization")
async def plan(ctx: Reader) -> Data[dict[str, Any]]:
    tenant = (await ctx.run(_current)).model_dump(mode="json")
    return Data(data={"tenant": tenant, "plan": "self-hosted", "limits": {}})
