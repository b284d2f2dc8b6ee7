"""Workspaces (spec §2, contract §6): one per downstream customer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response, status

from hostplane.api.deps import RequestContext, needs
from hostplane.api.envelopes import Data, DataList, Paging
from hostplane.inputs import JsonObject
from hostplane.resources import lifecycle, usage
from hostplane.tenancy import projects, workspaces
from hostplane.tenancy.schemas import (
    ProjectPublic,
    WorkspaceCreate,
    WorkspacePublic,
    WorkspaceUpdate,
)

router = APIRouter(prefix="/workspaces", tags=["workspaces"])

Reader = Annotated[RequestContext, needs("workspace:read")]
Writer = Annotated[RequestContext, needs("workspace:write")]
# A workspace's projects and usage are read with the permissions named for them, not with
# workspace:read alone.
ProjectReader = Annotated[RequestContext, needs("project:read")]
UsageReader = Annotated[RequestContext, needs("usage:read")]


# Client quirk: `workspaces.create` parses a bare WorkspaceData and reads `reused` (§6).
@router.post(
    "",
    response_model=WorkspacePublic,
    status_code=status.HTTP_201_CREATED,
    summary="Create a workspace, or reuse the one with this external_workspace_id (200, reused)",
    responses={200: {"model": WorkspacePublic, "description": "Reused by external_workspace_id"},
               409: {"description": "WORKSPACE_NAME_EXISTS (error.existing) or SETUP_REQUIRED"}},
)
async def create_workspace(body: WorkspaceCreate, ctx: Writer, response: Response) -> WorkspacePublic:
    workspace, reused = await ctx.run(workspaces.create_workspace, body)
    if reused:
        response.status_code = status.HTTP_200_OK
    return WorkspacePublic.of(workspace, reused=reused)


@router.get("", response_model=DataList[WorkspacePublic], summary="List workspaces")
async def list_workspaces(
    ctx: Reader,
    paging: Paging,
    external_workspace_id: Annotated[str | None, Query()] = None,
    external_user_id: Annotated[str | None, Query()] = None,
) -> DataList[WorkspacePublic]:
    page = await ctx.run(
        workspaces.list_workspaces,
        limit=paging.limit,
        cursor=paging.cursor,
        offset=paging.offset,
        external_workspace_id=external_workspace_id,
        external_user_id=external_user_id,
    )
    return DataList(
        data=[WorkspacePublic.of(w) for w in page.items],
        next_cursor=page.next_cursor,
        meta=paging.meta(page.total),
    )


@router.get("/{workspace_id}", response_model=WorkspacePublic, summary="One workspace")
async def get_workspace(workspace_id: str, ctx: Reader) -> WorkspacePublic:
    return WorkspacePublic.of(await ctx.run(workspaces.get_workspace, workspace_id))


@router.patch("/{workspace_id}", response_model=WorkspacePublic, summary="Change a workspace")
async def update_workspace(workspace_id: str, body: WorkspaceUpdate, ctx: Writer) -> WorkspacePublic:
    return WorkspacePublic.of(await ctx.run(workspaces.update_workspace, workspace_id, body))


@router.delete("/{workspace_id}", summary="Delete a workspace and its projects")
async def delete_workspace(
    workspace_id: str,
    ctx: Writer,
    dry_run: Annotated[bool, Query(description="Only report what would be deleted.")] = False,
    force: Annotated[bool, Query(description="Accepted for the CLI; deletion cascades to its projects and resources.")] = False,
) -> dict[str, Any]:
    """Deletes the workspace with its projects and their resources. With `dry_run=true` nothing
    changes and `would_delete` counts what would go."""
    if dry_run:
        held = await ctx.run(usage.workspace_usage, workspace_id, ctx.now)
        return {"id": workspace_id, "object": "workspace", "deleted": False, "dry_run": True,
                "would_delete": held}
    workspace = await ctx.run(lifecycle.delete_workspace, workspace_id, ctx.env)
    return {"id": workspace.id, "object": "workspace", "deleted": True}


@router.put("/{workspace_id}/settings", response_model=WorkspacePublic,
            summary="Replace a workspace's settings; answers the workspace")
async def replace_settings(
    workspace_id: str, settings: Annotated[JsonObject, Body()], ctx: Writer
) -> WorkspacePublic:
    return WorkspacePublic.of(await ctx.run(workspaces.replace_settings, workspace_id, settings))


@router.get("/{workspace_id}/usage", response_model=Data[dict[str, Any]],
            summary="What a workspace holds and has used")
async def workspace_usage(workspace_id: str, ctx: UsageReader) -> Data[dict[str, Any]]:
    return Data(data=await ctx.run(usage.workspace_usage, workspace_id, ctx.now))


@router.get("/{workspace_id}/stats", response_model=Data[dict[str, Any]],
            summary="Counts of a workspace's projects and resources")
async def workspace_stats(workspace_id: str, ctx: UsageReader) -> Data[dict[str, Any]]:
    return Data(data=await ctx.run(usage.workspace_usage, workspace_id, ctx.now))


@router.get("/{workspace_id}/projects", response_model=DataList[ProjectPublic],
            summary="The workspace's projects")
async def workspace_projects(workspace_id: str, ctx: ProjectReader,
                             paging: Paging) -> DataList[ProjectPublic]:
    page = await ctx.run(projects.list_workspace_projects, workspace_id, limit=paging.limit,
                         cursor=paging.cursor, offset=paging.offset)
    return DataList(data=[ProjectPublic.of(p) for p in page.items], next_cursor=page.next_cursor,
                    meta=paging.meta(page.total))
