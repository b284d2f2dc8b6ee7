"""Usage and chargeback (contract §16): `{"data": {period_start, period_end, results}}`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from hostplane.api.deps import RequestContext, needs
from hostplane.api.envelopes import Data
from hostplane.inputs import Moment, Text
from hostplane.resources import usage

router = APIRouter(tags=["usage"])

Reader = Annotated[RequestContext, needs("usage:read")]


@router.get("/usage", response_model=Data[dict[str, Any]],
            summary="Resource counts and runtime seconds per workspace, external user or external "
                    "project; the organization's storage and its quota")
async def get_usage(
    ctx: Reader,
    group_by: Annotated[Literal["workspace_id", "external_user_id", "external_project_id"],
                        Query()] = "workspace_id",
    period: Annotated[Literal["7d", "30d", "month-to-date"] | None, Query()] = None,
    start: Annotated[Moment | None, Query(description="ISO 8601 with a zone")] = None,
    end: Annotated[Moment | None, Query(description="ISO 8601 with a zone")] = None,
    external_user_id: Annotated[Text(1, 200) | None, Query()] = None,  # type: ignore[valid-type]
) -> Data[dict[str, Any]]:
    first, last = usage.period_bounds(period, start, end, ctx.now)
    return Data(data=await ctx.run(usage.usage, group_by, first, last, ctx.now,
                                   external_user_id=external_user_id,
                                   storage_quota_mb=ctx.env.capacity.storage_quota_mb))
