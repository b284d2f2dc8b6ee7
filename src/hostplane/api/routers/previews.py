"""Sandbox previews (contract §8.3): expose a port and manage its preview records."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response, status

from hostplane.api.deps import RequestContext, needs
from hostplane.api.envelopes import Data, Deleted
from hostplane.resources import previews
from hostplane.resources.preview_schemas import ExposeRequest, PreviewCreate, PreviewPublic

router = APIRouter(prefix="/sandboxes/{sandbox_id}", tags=["sandbox previews"])

Reader = Annotated[RequestContext, needs("sandbox:read")]
Writer = Annotated[RequestContext, needs("sandbox:write")]


@router.post("/expose", response_model=Data[PreviewPublic], status_code=status.HTTP_201_CREATED,
             summary="The preview URL of a port (201 when created, 200 when it existed)",
             responses={200: {"model": Data[PreviewPublic], "description": "Already exposed"}})
async def expose(sandbox_id: str, ctx: Writer, response: Response,
                 body: Annotated[ExposeRequest | None, Body()] = None) -> Data[PreviewPublic]:
    """Safe to repeat: exposing a port that already has a preview answers that preview with
    200 instead of 201. The URL is on the organization's preview domain once verified, else
    the platform's."""
    port = (body or ExposeRequest()).port
    view = await ctx.run(previews.expose_port, sandbox_id, port, ctx.env)
    if view.reused:
        response.status_code = status.HTTP_200_OK
    return Data(data=PreviewPublic.of(view))


@router.post("/previews", response_model=Data[PreviewPublic], status_code=status.HTTP_201_CREATED,
             summary="Create a preview of a port (200 with reused: true if it exists)",
             responses={200: {"model": Data[PreviewPublic], "description": "Already exposed"}})
async def create_preview(sandbox_id: str, body: PreviewCreate, ctx: Writer,
                         response: Response) -> Data[PreviewPublic]:
    view = await ctx.run(previews.expose_port, sandbox_id, body.port, ctx.env, name=body.name,
                         visibility=body.visibility)
    if view.reused:
        response.status_code = status.HTTP_200_OK
    return Data(data=PreviewPublic.of(view))


@router.get("/previews", response_model=Data[list[PreviewPublic]], summary="List previews")
async def list_previews(sandbox_id: str, ctx: Reader) -> Data[list[PreviewPublic]]:
    views = await ctx.run(previews.list_previews, sandbox_id, ctx.env)
    return Data(data=[PreviewPublic.of(v) for v in views])


@router.get("/previews/{preview_id}", response_model=Data[PreviewPublic], summary="One preview")
async def get_preview(sandbox_id: str, preview_id: str, ctx: Reader) -> Data[PreviewPublic]:
    view = await ctx.run(previews.get_preview, sandbox_id, preview_id, ctx.env)
    return Data(data=PreviewPublic.of(view))


@router.delete("/previews/{preview_id}", summary="Delete a preview")
async def delete_preview(sandbox_id: str, preview_id: str, ctx: Writer) -> Data[Deleted]:
    preview = await ctx.run(previews.delete_preview, sandbox_id, preview_id)
    return Data(data=Deleted(id=preview.id, object="preview", deleted=True))
