"""Publishing deployments (contract §10): publish from a sandbox, upload a built archive,
versions, promote and rollback. Promote and rollback answer the Deployment, as the official
client validates them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from hostplane.api.deps import RequestContext, container_of, needs
from hostplane.api.envelopes import Data
from hostplane.compute.port import WORKSPACE
from hostplane.resources import versions
from hostplane.resources.deployment_schemas import DeploymentPublic
from hostplane.resources.version_schemas import (
    PublishRequest,
    PublishResult,
    RollbackRequest,
    VersionPublic,
)

router = APIRouter(tags=["deployments"])

Reader = Annotated[RequestContext, needs("deployment:read")]
Writer = Annotated[RequestContext, needs("deployment:write")]
UPLOAD_PATH = r"^/api/v1/deployments/[^/]+/versions$"  # its own body limit (a built archive)


@router.post("/deployments/{deployment_id}/publish", response_model=Data[PublishResult],
             status_code=status.HTTP_201_CREATED,
             summary="Publish a sandbox folder as a new version (promoted unless promote=false)")
async def publish(deployment_id: str, body: PublishRequest, ctx: Writer,
                  request: Request) -> Data[PublishResult]:
    """Copies the sandbox folder `output_path` as a new, unchangeable version of the deployment
    and, unless `promote` is false, serves it at once at every URL of the deployment."""
    quota = ctx.env.capacity.storage_quota_mb
    room = await ctx.run(versions.check_publish, deployment_id, body.source_sandbox_id, quota)
    files = versions.sandbox_files(ctx.env.driver, body.source_sandbox_id,
                                   body.output_path or WORKSPACE)  # read as they are stored
    release = await ctx.call(container_of(request).releases.add, files, room)
    view, version = await ctx.run(versions.record_version, deployment_id, release,
                                  f"sandbox:{body.source_sandbox_id}", body.entrypoint,
                                  body.promote, ctx.env, quota)
    return Data(data=PublishResult(deployment=DeploymentPublic.of(view),
                                   version=VersionPublic.of(version), promoted=body.promote))


@router.post("/deployments/{deployment_id}/versions", response_model=Data[PublishResult],
             status_code=status.HTTP_201_CREATED,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/gzip": {"schema": {"type": "string", "format": "binary"}},
                 "application/x-tar": {"schema": {"type": "string", "format": "binary"}},
                 "application/octet-stream": {"schema": {"type": "string",
                                                         "format": "binary"}}}}},
             summary="Upload a built site (.tar.gz of regular files) as a new version")
async def upload_version(deployment_id: str, ctx: Writer, request: Request,
                         promote: Annotated[bool, Query(description="Serve it at once")] = False
                         ) -> Data[PublishResult]:
    """The body is the archive itself: a gzip-compressed tar of regular files and folders. The
    version is kept; `promote=true` also serves it at once."""
    quota = ctx.env.capacity.storage_quota_mb
    # 404 before the body is read; then the room its files may take.
    room = await ctx.run(versions.upload_room, deployment_id, quota)
    store = container_of(request).releases
    with store.spool() as spooled:
        # The body goes to disk as it arrives (a piece at a time, however large), and is read
        # back from there a piece at a time.
        async for chunk in request.stream():
            spooled.write(chunk)
        spooled.flush()
        spooled.seek(0)
        release = await ctx.call(store.add_archive, spooled, room)
    view, version = await ctx.run(versions.record_version, deployment_id, release, "upload",
                                  None, promote, ctx.env, quota)
    return Data(data=PublishResult(deployment=DeploymentPublic.of(view),
                                   version=VersionPublic.of(version), promoted=promote))


@router.get("/deployments/{deployment_id}/versions", response_model=Data[list[VersionPublic]],
            summary="The deployment's versions, oldest first")
async def list_versions(deployment_id: str, ctx: Reader) -> Data[list[VersionPublic]]:
    found = await ctx.run(versions.list_versions, deployment_id)
    return Data(data=[VersionPublic.of(v) for v in found])


@router.get("/deployments/{deployment_id}/versions/{version_id}",
            response_model=Data[VersionPublic], summary="One version")
async def get_version(deployment_id: str, version_id: str, ctx: Reader) -> Data[VersionPublic]:
    return Data(data=VersionPublic.of(await ctx.run(versions.get_version, deployment_id,
                                                    version_id)))


@router.post("/deployments/{deployment_id}/versions/{version_id}/promote",
             response_model=Data[DeploymentPublic], summary="Serve this version")
async def promote(deployment_id: str, version_id: str, ctx: Writer) -> Data[DeploymentPublic]:
    view = await ctx.run(versions.promote, deployment_id, version_id, ctx.env)
    return Data(data=DeploymentPublic.of(view))


@router.post("/deployments/{deployment_id}/rollback", response_model=Data[DeploymentPublic],
             summary="Serve the version before the active one (or version_id)")
async def rollback(deployment_id: str, ctx: Writer,
                   body: RollbackRequest | None = None) -> Data[DeploymentPublic]:
    """Serves the version before the active one, or `version_id` when given. Versions are
    never changed, so rolling forward again is a promote."""
    view = await ctx.run(versions.rollback, deployment_id,
                         body.version_id if body else None, ctx.env)
    return Data(data=DeploymentPublic.of(view))
