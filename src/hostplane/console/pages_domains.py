"""Domains: the organization's preview and deployment domains and the exact custom domains, each
with its DNS records table, live status, "verify now" and the doctor's explanation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response

from hostplane import errors
from hostplane.console.web import ConsoleRoute, Page, parse, redirect
from hostplane.domains import custom_domains, tenant_domains
from hostplane.domains.custom_schemas import CustomDomainPublic, FlatDomainAdd
from hostplane.domains.models import DEPLOYMENT, PREVIEW
from hostplane.domains.schemas import TenantDomainPublic, TenantDomainSet
from hostplane.domains.verification import run_checks

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
KINDS = {"preview": PREVIEW, "deployment": DEPLOYMENT}
Text = Annotated[str, Form(max_length=300)]


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise errors.NotFound(f"No {kind!r} domain.", code="NOT_FOUND",
                              fix="Use the preview or deployment domain.")
    return KINDS[kind]


@router.get("/domains")
async def domains_page(con: Page) -> HTMLResponse:
    con.need("domain:read")
    settings, platform = con.ctx.settings, con.ctx.env.platform
    org_domains = [TenantDomainPublic.of(await con.run(tenant_domains.get_tenant_domain, kind,
                                                       platform), settings)
                   for kind in (PREVIEW, DEPLOYMENT)]
    exact = await con.run(custom_domains.list_domains, limit=200, cursor=None, offset=0)
    return con.page("domains.html", org_domains=org_domains,
                    exact=[CustomDomainPublic.of(d, settings) for d in exact.items])


@router.get("/domains/{kind}/status")
async def domain_status(kind: str, con: Page) -> HTMLResponse:
    """The status line alone, which the page asks for again while it is open (htmx)."""
    con.need("domain:read")
    view = await con.run(tenant_domains.get_tenant_domain, _kind(kind), con.ctx.env.platform)
    return con.page("_domain_status.html", d=TenantDomainPublic.of(view, con.ctx.settings))


@router.post("/domains/{kind}")
async def domain_set(kind: str, con: Page, domain: Text = "") -> Response:
    con.need("domain:write")
    which = _kind(kind)
    body = parse(TenantDomainSet, domain=domain)
    name, field = body.value(which)
    await con.run(tenant_domains.set_tenant_domain, which, name, con.ctx.env.platform,
                  con.ctx.now, field=field)
    await con.audit(f"{which}_domain.update", f"{which}_domain", None, 303)
    return redirect(f"/domains#{which}")


@router.post("/domains/{kind}/verify")
async def domain_verify(kind: str, con: Page) -> Response:
    con.need("domain:write")
    which = _kind(kind)
    con.ctx.verify_limiter.check(con.ctx.principal.tenant_id)
    settings = con.ctx.settings
    plan = await con.run(tenant_domains.verification_plan, which, settings.proxy_target,
                         settings.dns_challenge_label)
    outcome = await run_checks(con.ctx.env.resolver, plan.expected)  # no transaction open
    await con.run(tenant_domains.record_checks, which, plan, outcome, con.ctx.env.platform,
                  con.ctx.now)
    await con.audit(f"{which}_domain.verify", f"{which}_domain", None, 303)
    return redirect(f"/domains#{which}")


@router.post("/domains/{kind}/remove")
async def domain_remove(kind: str, con: Page) -> Response:
    con.need("domain:write")
    which = _kind(kind)
    await con.run(tenant_domains.delete_tenant_domain, which, con.ctx.env.platform, con.ctx.now)
    await con.audit(f"{which}_domain.delete", f"{which}_domain", None, 303)
    return redirect("/domains")


@router.post("/custom-domains")
async def exact_add(con: Page, domain: Text = "", resource_type: Text = "",
                    resource_id: Text = "") -> Response:
    con.need("domain:write")
    body = parse(FlatDomainAdd, domain=domain, resource_type=resource_type,
                 resource_id=resource_id)
    target_type, target_id = body.target()
    record, _reused = await con.run(custom_domains.add_domain, target_type, target_id,
                                    body.request(), con.ctx.env.platform, con.ctx.now)
    await con.audit("custom_domain.create", "custom_domain", record.id, 303)
    return redirect(f"/domains#domain-{record.id}")


@router.post("/custom-domains/{domain_id}/verify")
async def exact_verify(domain_id: str, con: Page) -> Response:
    con.need("domain:write")
    con.ctx.verify_limiter.check(con.ctx.principal.tenant_id)
    settings = con.ctx.settings
    plan = await con.run(custom_domains.verification_plan, domain_id, settings.proxy_target,
                         settings.dns_challenge_label, None, None)
    outcome = await run_checks(con.ctx.env.resolver, plan.expected)
    await con.run(custom_domains.record_checks, plan, outcome, con.ctx.now)
    await con.audit("custom_domain.verify", "custom_domain", domain_id, 303)
    return redirect(f"/domains#domain-{domain_id}")


@router.post("/custom-domains/{domain_id}/remove")
async def exact_remove(domain_id: str, con: Page) -> Response:
    con.need("domain:write")
    await con.run(custom_domains.remove_domain, domain_id, con.ctx.now)
    await con.audit("custom_domain.delete", "custom_domain", domain_id, 303)
    return redirect("/domains")
