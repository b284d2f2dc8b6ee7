"""Deployments (contract §10.1): every response is `{"data": Deployment}`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from hostplane import errors
from hostplane.api.deps import RequestContext, needs
from hostplane.api.envelopes import Data, DataList, Deleted, Paging
from hostplane.api.filters import Filters
from hostplane.resources import deployments
from hostplane.resources.deployment_schemas import (
    DeploymentCreate,
    DeploymentPublic,
    DeploymentUpdate,
)

router = APIRouter(tags=["deployments"])

Reader = Annotated[RequestContext, needs("deployment:read")]
Writer = Annotated[RequestContext, needs("deployment:write")]


@router.post("/deployments", response_model=Data[DeploymentPublic],
             status_code=status.HTTP_201_CREATED,
             summary="Create a deployment; the slug comes from the name ('Lead Magnet' → "
                     "lead-magnet)")
async def create_deployment(body: DeploymentCreate, ctx: Writer) -> Data[DeploymentPublic]:
    view = await ctx.run(deployments.create_deployment, body, ctx.env)
    return Data(data=DeploymentPublic.of(view))


@router.post("/projects/{project_id}/deployments", response_model=Data[DeploymentPublic],
             status_code=status.HTTP_201_CREATED,
             summary="Create a deployment in this project (how the Go client sends the project)")
async def create_project_deployment(project_id: str, body: DeploymentCreate,
                                    ctx: Writer) -> Data[DeploymentPublic]:
    if body.project_id not in (None, project_id):
        raise errors.Invalid(
            f"The path names project {project_id!r} but the body names {body.project_id!r}.",
            code="SELECTOR_CONFLICT", field="project_id",
            rule="the body's project_id must match the path", fix="Drop project_id from the body.")
    body = body.model_copy(update={"project_id": project_id})
    view = await ctx.run(deployments.create_deployment, body, ctx.env)
    return Data(data=DeploymentPublic.of(view))


@router.get("/deployments", response_model=DataList[DeploymentPublic], summary="List deployments")
async def list_deployments(ctx: Reader, paging: Paging,
                           filters: Filters) -> DataList[DeploymentPublic]:
    page = await ctx.run(deployments.list_deployments, filters, ctx.env, limit=paging.limit,
                         cursor=paging.cursor, offset=paging.offset)
    return DataList(data=[DeploymentPublic.of(v) for v in page.items],
                    next_cursor=page.next_cursor, meta=paging.meta(page.total))


@router.get("/deployments/{deployment_id}", response_model=Data[DeploymentPublic],
            summary="One deployment, with every URL layer and the winner")
async def get_deployment(deployment_id: str, ctx: Reader) -> Data[DeploymentPublic]:
    view = await ctx.run(deployments.get_deployment, deployment_id, ctx.env)
    return Data(data=DeploymentPublic.of(view))


@router.patch("/deployments/{deployment_id}", response_model=Data[DeploymentPublic],
              summary="Change a deployment (a new slug changes its URLs)")
async def update_deployment(deployment_id: str, body: DeploymentUpdate,
                            ctx: Writer) -> Data[DeploymentPublic]:
    view = await ctx.run(deployments.update_deployment, deployment_id, body, ctx.env)
    return Data(data=DeploymentPublic.of(view))


@router.delete("/deployments/{deployment_id}", summary="Delete a deployment")
async def delete_deployment(deployment_id: str, ctx: Writer) -> Data[Deleted]:
    deployment = await ctx.run(deployments.delete_deployment, deployment_id, ctx.env)
    return Data(data=Deleted(id=deployment.id, object="deployment", deleted=True))
