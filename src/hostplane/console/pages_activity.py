"""Usage by workspace, external user or external project, and the audit log with its filters."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from hostplane.api.routers.audit import AuditEventPublic
from hostplane.audit.service import AuditFilters, list_events
from hostplane.console.web import ConsoleRoute, Page
from hostplane.resources import usage

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
Filter = Annotated[str, Query(max_length=200)]
GROUPS = {"workspace_id": "Workspace", "external_user_id": "External user",
          "external_project_id": "External project"}


@router.get("/usage")
async def usage_page(con: Page, group_by: Annotated[Literal["workspace_id", "external_user_id",
                                                            "external_project_id"],
                                                    Query()] = "workspace_id",
                     period: Annotated[Literal["7d", "30d", "month-to-date"], Query()] = "30d"
                     ) -> HTMLResponse:
    con.need("usage:read")
    first, last = usage.period_bounds(period, None, None, con.ctx.now)
    report = await con.run(usage.usage, group_by, first, last, con.ctx.now,
                           storage_quota_mb=con.ctx.env.capacity.storage_quota_mb)
    return con.page("usage.html", report=report, group_by=group_by, period=period, groups=GROUPS)


@router.get("/audit")
async def audit_page(con: Page, actor_id: Filter = "", resource_type: Filter = "",
                     resource_id: Filter = "", action: Filter = "",
                     external_user_id: Filter = "") -> HTMLResponse:
    con.need("audit:read")
    wanted = {"actor_id": actor_id, "external_user_id": external_user_id,
              "resource_type": resource_type, "resource_id": resource_id, "action": action}
    filters = AuditFilters(**{k: v.strip() or None for k, v in wanted.items()})
    page = await con.run(list_events, filters, limit=200, cursor=None, offset=0)
    events = [AuditEventPublic.of(e) for e in page.items]
    return con.page("audit.html", events=list(reversed(events)), filters=wanted,
                    total=page.total)
