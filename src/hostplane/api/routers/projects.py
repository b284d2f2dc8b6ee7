"""Projects (contract §7): the things a workspace builds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from hostplane.api.deps import RequestContext, needs
from hostplane.api.envelopes import Data, DataList, Deleted, Paging
from hostplane.resources import lifecycle, usage
from hostplane.tenancy import projects
from hostplane.tenancy.schemas import ProjectCreate, ProjectMove, ProjectPublic, ProjectUpdate

router = APIRouter(prefix="/projects", tags=["projects"])

Reader = Annotated[RequestContext, needs("project:read")]
Writer = Annotated[RequestContext, needs("project:write")]


@router.post("", response_model=Data[ProjectPublic], status_code=status.HTTP_201_CREATED,
             summary="Create a project in a workspace (workspace_id or workspace_slug)")
async def create_project(body: ProjectCreate, ctx: Writer, response: Response) -> Data[ProjectPublic]:
    project, reused = await ctx.run(projects.create_project, body)
    if reused:
        response.status_code = status.HTTP_200_OK
    return Data(data=ProjectPublic.of(project, reused=reused))


@router.get("", response_model=DataList[ProjectPublic], summary="List projects")
async def list_projects(
    ctx: Reader,
    paging: Paging,
    workspace_id: Annotated[str | None, Query()] = None,
    external_project_id: Annotated[str | None, Query()] = None,
) -> DataList[ProjectPublic]:
    page = await ctx.run(
        projects.list_projects, limit=paging.limit, cursor=paging.cursor, offset=paging.offset,
        workspace_id=workspace_id, external_project_id=external_project_id,
    )
    return DataList(data=[ProjectPublic.of(p) for p in page.items], next_cursor=page.next_cursor,
                    meta=paging.meta(page.total))


@router.get("/{project_id}", response_model=Data[ProjectPublic], summary="One project")
async def get_project(project_id: str, ctx: Reader) -> Data[ProjectPublic]:
    return Data(data=ProjectPublic.of(await ctx.run(projects.get_project, project_id)))


@router.patch("/{project_id}", response_model=Data[ProjectPublic], summary="Change a project")
async def update_project(project_id: str, body: ProjectUpdate, ctx: Writer) -> Data[ProjectPublic]:
    return Data(data=ProjectPublic.of(await ctx.run(lifecycle.update_project, project_id, body)))


@router.delete("/{project_id}", summary="Delete a project (never a workspace's default project)")
async def delete_project(project_id: str, ctx: Writer) -> Deleted:
    project = await ctx.run(lifecycle.delete_project, project_id, ctx.env)
    return Deleted(id=project.id, object="project", deleted=True)


@router.post("/{project_id}/move", response_model=Data[ProjectPublic],
             summary="Move a project to another workspace")
async def move_project(project_id: str, body: ProjectMove, ctx: Writer) -> Data[ProjectPublic]:
    """Moves the project, with what it owns, to `workspace_id`. A workspace's default project
    cannot move; a project slug already taken there is 409."""
    moved = await ctx.run(lifecycle.move_project, project_id, body.target_workspace_id)
    return Data(data=ProjectPublic.of(moved))


@router.get("/{project_id}/summary", response_model=Data[dict[str, Any]],
            summary="Counts of a project's resources")
async def project_summary(project_id: str, ctx: Reader) -> Data[dict[str, Any]]:
    return Data(data=await ctx.run(usage.project_summary, project_id, ctx.now))
