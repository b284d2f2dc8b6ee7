"""Exact custom domains (spec §6; contract §10.2, §11.2, §12): on a deployment, computer,
project or a sandbox's preview port, and the flat /custom-domains list. Every response is `{"data": …}`.

No `from __future__ import annotations` here: the per-resource routes are built in a function, and
FastAPI must see their path-parameter types as objects, not as names it cannot resolve.
"""


from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from hostplane.api.deps import RequestContext, needs
from hostplane.api.envelopes import Data, DataList, Paging
from hostplane.domains import custom_domains as service
from hostplane.domains.custom_schemas import CustomDomainPublic, DomainAdd, FlatDomainAdd
from hostplane.domains.schemas import DomainEventPublic
from hostplane.domains.verification import run_checks

router = APIRouter(tags=["custom domains"])

Reader = Annotated[RequestContext, needs("domain:read")]
Writer = Annotated[RequestContext, needs("domain:write")]
ADDED = {200: {"model": Data[CustomDomainPublic], "description": "Already attached here"}}


async def _add(ctx: RequestContext, response: Response, target_type: str, target_id: str,
               body: DomainAdd) -> Data[CustomDomainPublic]:
    record, reused = await ctx.run(service.add_domain, target_type, target_id, body.request(),
                                   ctx.env.platform, ctx.now)
    if reused:
        response.status_code = status.HTTP_200_OK
    return Data(data=CustomDomainPublic.of(record, ctx.settings, reused=reused))


async def _verify(ctx: RequestContext, domain_id: str, target_type: str | None = None,
                  target_id: str | None = None) -> Data[CustomDomainPublic]:
    ctx.verify_limiter.check(ctx.principal.tenant_id)
    plan = await ctx.run(service.verification_plan, domain_id, ctx.settings.proxy_target,
                         ctx.settings.dns_challenge_label, target_type, target_id)
    outcome = await run_checks(ctx.env.resolver, plan.expected)  # no transaction open
    record = await ctx.run(service.record_checks, plan, outcome, ctx.now)
    return Data(data=CustomDomainPublic.of(record, ctx.settings))


def _resource_routes(target_type: str, plural: str) -> None:
    base = f"/{plural}/{{{target_type}_id}}/domains"
    TargetId = Annotated[str, Path(alias=f"{target_type}_id")]  # noqa: N806 - a type alias

    @router.post(base, response_model=Data[CustomDomainPublic], status_code=201, responses=ADDED,
                 name=f"add_{target_type}_domain",
                 summary=f"Attach an exact domain to a {target_type} (pending until DNS proves it)")
    async def add(target_id: TargetId, body: DomainAdd, ctx: Writer,
                  response: Response) -> Data[CustomDomainPublic]:
        return await _add(ctx, response, target_type, target_id, body)

    @router.get(base, response_model=Data[list[CustomDomainPublic]],
                name=f"list_{target_type}_domains", summary=f"The {target_type}'s exact domains")
    async def list_(target_id: TargetId, ctx: Reader) -> Data[list[CustomDomainPublic]]:
        page = await ctx.run(service.list_domains, limit=200, target_type=target_type,
                             target_id=target_id)
        return Data(data=[CustomDomainPublic.of(d, ctx.settings) for d in page.items])

    @router.post(f"{base}/{{domain_id}}/verify", response_model=Data[CustomDomainPublic],
                 name=f"verify_{target_type}_domain",
                 summary="Check the domain's DNS now (ownership TXT and routing)")
    async def verify(target_id: TargetId, domain_id: str, ctx: Writer) -> Data[CustomDomainPublic]:
        return await _verify(ctx, domain_id, target_type, target_id)

    @router.delete(f"{base}/{{domain_id}}", name=f"remove_{target_type}_domain",
                   summary="Detach the domain (a new claim of the name needs fresh DNS proof)")
    async def remove(target_id: TargetId, domain_id: str, ctx: Writer) -> Data[dict[str, Any]]:
        record = await ctx.run(service.remove_domain, domain_id, ctx.now, target_type, target_id)
        return Data(data={"id": record.id, "object": "custom_domain", "deleted": True})


for _type, _plural in (("deployment", "deployments"), ("computer", "computers"),
                       ("project", "projects"), ("sandbox", "sandboxes")):
    _resource_routes(_type, _plural)


@router.get("/custom-domains", response_model=DataList[CustomDomainPublic],
            summary="Every exact domain of the organization")
async def list_custom_domains(
    ctx: Reader, paging: Paging,
    status_: Annotated[str | None, Query(alias="status", max_length=16)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
) -> DataList[CustomDomainPublic]:
    page = await ctx.run(service.list_domains, limit=paging.limit, cursor=paging.cursor,
                         offset=paging.offset, target_id=target_id, status=status_)
    return DataList(data=[CustomDomainPublic.of(d, ctx.settings) for d in page.items],
                    next_cursor=page.next_cursor, meta=paging.meta(page.total))


@router.post("/custom-domains", response_model=Data[CustomDomainPublic], status_code=201,
             responses=ADDED, summary="Attach an exact domain (either client's key names)")
async def create_custom_domain(body: FlatDomainAdd, ctx: Writer,
                               response: Response) -> Data[CustomDomainPublic]:
    target_type, target_id = body.target()
    return await _add(ctx, response, target_type, target_id, body)


@router.get("/custom-domains/{domain_id}", response_model=Data[CustomDomainPublic],
            summary="One exact domain")
async def get_custom_domain(domain_id: str, ctx: Reader) -> Data[CustomDomainPublic]:
    return Data(data=CustomDomainPublic.of(await ctx.run(service.get_domain, domain_id),
                                           ctx.settings))


@router.get("/custom-domains/{domain_id}/events", response_model=Data[list[DomainEventPublic]],
            summary="The domain's history of states")
async def custom_domain_events(domain_id: str, ctx: Reader) -> Data[list[DomainEventPublic]]:
    found = await ctx.run(service.domain_history, domain_id)
    return Data(data=[DomainEventPublic.of(e) for e in found])


@router.post("/custom-domains/{domain_id}/verify", response_model=Data[CustomDomainPublic],
             summary="Check the domain's DNS now")
async def verify_custom_domain(domain_id: str, ctx: Writer) -> Data[CustomDomainPublic]:
    return await _verify(ctx, domain_id)


@router.delete("/custom-domains/{domain_id}", summary="Detach an exact domain")
async def delete_custom_domain(domain_id: str, ctx: Writer) -> Data[dict[str, Any]]:
    record = await ctx.run(service.remove_domain, domain_id, ctx.now)
    return Data(data={"id": record.id, "object": "custom_domain", "deleted": True})
