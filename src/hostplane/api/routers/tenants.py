"""Organization identity (spec §1): read it, set it up once, see whether setup is required."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter



from hostplane import errors
from hostplane.api.deps import RequestContext, needs
from hostplane.api.envelopes import Data
from hostplane.tenancy.organizations import set_identity
from hostplane.tenancy.schemas import OrganizationPublic, OrganizationUpdate

router = APIRouter(tags=["organizations"])

Reader = Annotated[RequestContext, needs("organization:read")]
Manager = Annotated[RequestContext, needs("organization:manage")]


def _own(ctx: RequestContext, id_or_slug: str):  # type: ignore[no-untyped-def]
    tenant = ctx.scope.tenant()
    if id_or_slug not in (tenant.id, tenant.slug):
        raise errors.NotFound(
            f"No organization {id_or_slug!r} for this credential.",
            code="ORG_NOT_FOUND",
            fix="Use the id from GET /api/v1/platform/tenants/current.",
        )
    return tenant


@router.get("/platform/tenants", response_model=Data[list[OrganizationPublic]],
            summary="The organizations this credential can act for")
def list_organizations(ctx: Reader) -> Data[list[OrganizationPublic]]:
    return Data(data=[OrganizationPublic.of(ctx.scope.tenant())])


@router.get("/platform/tenants/current", response_model=OrganizationPublic,
            summary="The caller's organization, with setup_required")
def current_organization(ctx: Reader) -> OrganizationPublic:
    return OrganizationPublic.of(ctx.scope.tenant())


@router.post("/platform/tenants/{id_or_slug}/switch", summary="Switch organization (sessions only)")
def switch_organization(id_or_slug: str, ctx: Reader) -> None:
    _own(ctx, id_or_slug)
    raise errors.Forbidden(
        "An API key belongs to one organization and cannot switch.",
        code="SWITCH_REQUIRES_SESSION",
        fix="Use a key of the other organization instead.",
    )


@router.get("/tenants/{tenant_id}", response_model=OrganizationPublic, summary="One organization")
def get_organization(tenant_id: str, ctx: Reader) -> OrganizationPublic:
    return OrganizationPublic.of(_own(ctx, tenant_id))


@router.put("/tenants/{tenant_id}", response_model=OrganizationPublic,
            summary="Set the organization name once; the permanent slug derives from it")
@router.patch("/tenants/{tenant_id}", response_model=OrganizationPublic,
              summary="Same as PUT: set the organization name once")
def update_organization(tenant_id: str, body: OrganizationUpdate, ctx: Manager) -> OrganizationPublic:
    tenant = _own(ctx, tenant_id)
    return OrganizationPublic.of(
        set_identity(ctx.scope.session, tenant, name=body.name, slug=body.slug, now=ctx.now)
    )


@router.get("/tenant/plan", response_model=Data[dict], summary="Plan and limits of the organization")
def plan(ctx: Reader) -> Data[dict]:
    tenant = OrganizationPublic.of(ctx.scope.tenant()).model_dump(mode="json")
    return Data(data={"tenant": tenant, "plan": "self-hosted", "limits": {}})
