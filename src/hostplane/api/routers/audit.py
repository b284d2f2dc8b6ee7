"""GET /audit-log: the organization's changes, filtered by actor, resource and time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from hostplane.api.deps import RequestContext, needs
from hostplane.api.envelopes import DataList, Paging
from hostplane.audit.models import AuditEvent
from hostplane.audit.service import AuditFilters, list_events
from hostplane.inputs import Moment

router = APIRouter(tags=["audit log"])


class AuditEventPublic(BaseModel):
    id: str
    actor_type: str
    actor_id: str
    external_user_id: str | None
    action: str
    method: str
    route: str
    resource_type: str
    resource_id: str | None
    status_code: int
    request_id: str
    created_at: datetime

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventPublic:
        return cls.model_validate(event, from_attributes=True)


Text = Annotated[str | None, Query(max_length=200)]


@router.get("/audit-log", response_model=DataList[AuditEventPublic],
            summary="Changes made by this organization's keys and tokens, oldest first")
async def audit_log(
    ctx: Annotated[RequestContext, needs("audit:read")], paging: Paging,
    actor_id: Text = None, external_user_id: Text = None, resource_type: Text = None,
    resource_id: Text = None, action: Text = None,
    since: Annotated[Moment | None, Query(description="ISO 8601 with a zone")] = None,
    until: Annotated[Moment | None, Query(description="ISO 8601 with a zone")] = None,
) -> DataList[AuditEventPublic]:
    filters = AuditFilters(actor_id, external_user_id, resource_type, resource_id, action,
                           since, until)
    page = await ctx.run(list_events, filters, limit=paging.limit, cursor=paging.cursor,
                         offset=paging.offset)
    return DataList(data=[AuditEventPublic.of(e) for e in page.items],
                    next_cursor=page.next_cursor, meta=paging.meta(page.total))
