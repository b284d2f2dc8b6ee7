"""The spec's "Complete setup checklist", item by item, each computed from what the organization
has really done, with what to do next."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, or_, select

from hostplane.branding.models import Branding
from hostplane.branding.service import is_applied
from hostplane.db.scope import Scope
from hostplane.domains.models import CustomDomain, TenantDomain
from hostplane.resources.models import Computer, Database, Deployment, Sandbox
from hostplane.tenancy.models import Project, Workspace
from hostplane.tenancy.organizations import setup_state
from hostplane.tokens.models import BrowserToken

DONE, TODO, OPTIONAL = "done", "todo", "optional"


@dataclass(frozen=True)
class Item:
    key: str
    title: str
    status: str
    detail: str
    next: str | None = None


def checklist(scope: Scope) -> dict[str, Any]:
    tenant = scope.tenant()
    state = setup_state(tenant)
    count = _counter(scope)
    workspaces = count(Workspace, or_(Workspace.is_default.is_(False),
                                      Workspace.external_workspace_id.is_not(None)))
    projects = count(Project, or_(Project.is_default.is_(False),
                                  Project.external_project_id.is_not(None)))
    resources = sum(count(m) for m in (Sandbox, Database, Deployment, Computer))
    domains = {d.kind: d.status for d in scope.session.scalars(scope.select(TenantDomain))}
    verified = count(CustomDomain, CustomDomain.status == "verified")
    claimed = count(CustomDomain, CustomDomain.status != "removed")
    tokens = count(BrowserToken)
    origins = (tenant.settings or {}).get("browser_origins") or []
    named = not state.required
    items = [
        Item("organization_name", "Set up the organization (its name)",
             DONE if named else TODO,
             f"Named {tenant.name!r}." if named else (state.reason or ""),
             None if named else f"PUT /api/v1/tenants/{tenant.id} {{\"name\": \"Your Company\"}}"),
        Item("permanent_slug", "The organization name fixes the permanent slug, once",
             DONE if named else TODO,
             f"The slug is {tenant.slug!r}, for good: it is in every fallback URL." if named
             else "Setting the name fixes the slug used in every fallback URL; it can't change "
                  "afterwards.",
             None if named else "Choose the name carefully, then set it."),
        Item("workspaces", "Create or auto-resolve a workspace per downstream customer",
             DONE if workspaces else TODO, f"{workspaces} workspace(s) of your own.",
             None if workspaces else "POST /api/v1/workspaces {\"name\": …, "
                                     "\"external_workspace_id\": …}, or send "
                                     "external_workspace_id when creating resources"),
        Item("projects", "Create or auto-resolve a project per app, site or workflow",
             DONE if projects else TODO, f"{projects} project(s) of your own.",
             None if projects else "POST /api/v1/workspaces/{id}/projects, or send "
                                   "external_project_id when creating resources"),
        Item("store_ids", "Store workspace_id and project_id from create responses",
             DONE if resources else TODO,
             f"{resources} resource(s) created; each response carried its workspace_id and "
             "project_id." if resources else "No resource created yet.",
             None if resources else "Create a sandbox or deployment and keep the workspace_id "
                                    "and project_id it returns"),
        Item("fallback_urls", "Use the returned fallback URLs until DNS is configured",
             DONE if resources else TODO,
             "Show url / public_url as returned; never build hostnames." if resources
             else "Resources come with working URLs on the platform's domain.",
             None if resources else "Create a resource and display its url"),
        _domain_item("preview_domain", "Configure the preview domain (sandbox previews on your "
                     "domain)", domains.get("preview"), "preview-domain"),
        _domain_item("deployment_domain", "Configure the deployment domain (apps on your domain "
                     "by default)", domains.get("deployment"), "deployment-domain"),
        Item("custom_domains", "Attach exact custom domains when a customer wants their own URL",
             DONE if verified else (TODO if claimed else OPTIONAL),
             f"{verified} verified, {claimed - verified} waiting for DNS." if claimed
             else "None attached (only needed when a customer brings a domain).",
             None if verified or not claimed else
             "Create the DNS records each domain's dns_records lists, then POST …/verify"),
        Item("branding", "Apply tenant branding and support links",
             DONE if is_applied(scope.find(Branding)) else TODO,
             "Branding is set." if is_applied(scope.find(Branding))
             else "The platform's defaults are shown.",
             None if is_applied(scope.find(Branding)) else
             "PUT /api/v1/tenant/branding {\"custom_app_name\": …, \"support_url\": …}"),
        Item("browser_tokens", "Issue browser tokens from your backend only",
             DONE if tokens else TODO,
             f"{tokens} browser token(s) issued." if tokens
             else "No browser token issued yet: pages must never hold an msk_ key.",
             None if tokens else "POST /api/v1/browser-tokens from your backend"),
        Item("browser_origins", "Optionally, keep browser tokens to your own pages",
             DONE if origins else OPTIONAL,
             f"Browser tokens work from {len(origins)} origin(s) only." if origins
             else "Browser tokens work from any page (each is limited by its scope and "
                  "lifetime).",
             None if origins else "PUT /api/v1/tenant/browser-origins {\"origins\": "
                                  "[\"https://app.example.com\"]}"),
    ]
    todo = [i for i in items if i.status == TODO]
    return {"items": [asdict(i) for i in items],
            "done": sum(i.status == DONE for i in items), "todo": len(todo),
            "optional": sum(i.status == OPTIONAL for i in items), "complete": not todo,
            "next": todo[0].next if todo else None}


def _domain_item(key: str, title: str, status: str | None, path: str) -> Item:
    if status == "verified":
        return Item(key, title, DONE, "Verified: URLs use it.")
    if status is None:
        return Item(key, title, OPTIONAL, "Not set: the platform's domain is used.")
    return Item(key, title, TODO, f"Set, and {status}: URLs use the platform's domain until it "
                "is verified.", f"Create the records in GET /api/v1/tenant/{path} "
                f"(dns_records), then POST /api/v1/tenant/{path}/verify")


def _counter(scope: Scope) -> Any:
    def count(model: Any, *where: Any) -> int:
        stmt = select(func.count()).select_from(scope.select(model).where(*where).subquery())
        return scope.session.scalar(stmt) or 0

    return count
