"""Sandboxes (contract §8.1, §8.2): create, read, list, destroy."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from hostplane.api.deps import RequestContext, needs
from hostplane.api.envelopes import Data, DataList, Paging
from hostplane.api.filters import Filters
from hostplane.resources import sandboxes
from hostplane.resources.sandbox_schemas import SandboxCreate, SandboxPublic, SandboxUpdate

router = APIRouter(prefix="/sandboxes", tags=["sandboxes"])

Reader = Annotated[RequestContext, needs("sandbox:read")]
Writer = Annotated[RequestContext, needs("sandbox:write")]


@router.post("", response_model=Data[SandboxPublic], status_code=status.HTTP_201_CREATED,
             summary="Create a sandbox; its workspace and project are found or created from the "
                     "selectors")
async def create_sandbox(
    body: SandboxCreate,
    ctx: Writer,
    wait: Annotated[str | None, Query(description="Accepted; creation already waits until the "
                                                  "sandbox is running or has failed.")] = None,
) -> Data[SandboxPublic]:
    view = await ctx.run(sandboxes.create_sandbox, body, ctx.env)
    return Data(data=SandboxPublic.of(view))


@router.get("", response_model=DataList[SandboxPublic],
            summary="List live sandboxes (state=destroyed lists destroyed ones)")
async def list_sandboxes(
    ctx: Reader, paging: Paging, filters: Filters,
    tags: Annotated[str | None, Query(description="Comma-separated; all must match.")] = None,
) -> DataList[SandboxPublic]:
    wanted = tuple(t.strip() for t in (tags or "").split(",") if t.strip())
    page = await ctx.run(sandboxes.list_sandboxes, replace(filters, tags=wanted), ctx.env,
                         limit=paging.limit, cursor=paging.cursor, offset=paging.offset)
    return DataList(data=[SandboxPublic.of(v) for v in page.items], next_cursor=page.next_cursor,
                    meta=paging.meta(page.total))


@router.get("/by-name/{name}", response_model=Data[SandboxPublic],
            summary="The newest live sandbox with this name")
async def get_sandbox_by_name(name: str, ctx: Reader) -> Data[SandboxPublic]:
    """Names are not unique: this answers the newest live sandbox with the name, or 404."""
    return Data(data=SandboxPublic.of(await ctx.run(sandboxes.get_sandbox_by_name, name, ctx.env)))


@router.get("/{sandbox_id}", response_model=Data[SandboxPublic], summary="One sandbox")
async def get_sandbox(sandbox_id: str, ctx: Reader) -> Data[SandboxPublic]:
    return Data(data=SandboxPublic.of(await ctx.run(sandboxes.get_sandbox, sandbox_id, ctx.env)))


@router.patch("/{sandbox_id}", response_model=Data[SandboxPublic],
              summary="Change a sandbox's name, preview visibility or host masking")
async def update_sandbox(sandbox_id: str, body: SandboxUpdate, ctx: Writer) -> Data[SandboxPublic]:
    return Data(data=SandboxPublic.of(await ctx.run(sandboxes.update_sandbox, sandbox_id, body,
                                                    ctx.env)))


@router.get("/{sandbox_id}/readiness", response_model=Data[dict[str, Any]],
            summary="Whether the sandbox takes commands (what the SDK's wait_until_ready polls)")
async def sandbox_readiness(sandbox_id: str, ctx: Reader) -> Data[dict[str, Any]]:
    """`{ready, state, status_reason}`: ready is true once the sandbox takes commands. Poll
    it after a create instead of retrying commands."""
    return Data(data=await ctx.run(sandboxes.readiness, sandbox_id))


@router.delete("/{sandbox_id}", response_model=Data[SandboxPublic],
               summary="Destroy a sandbox and everything the driver made for it")
async def destroy_sandbox(sandbox_id: str, ctx: Writer) -> Data[SandboxPublic]:
    view = await ctx.run(sandboxes.destroy_sandbox, sandbox_id, ctx.env)
    return Data(data=SandboxPublic.of(view))
