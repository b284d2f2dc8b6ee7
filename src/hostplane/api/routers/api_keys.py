"""API keys (contract §15.3): shown once at creation or rotation, stored only as a hash."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from hostplane.api.deps import RequestContext, needs
from hostplane.api.envelopes import Data, DataList, Paging
from hostplane.api.idempotency import REPLAY_BODY
from hostplane.keys import service
from hostplane.keys.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    ApiKeyUpdate,
    redacted_for_replay,
)

router = APIRouter(prefix="/api-keys", tags=["api keys"])

Manager = Annotated[RequestContext, needs("api_key:manage")]


@router.post("", response_model=Data[ApiKeyCreated], status_code=status.HTTP_201_CREATED,
             summary="Create a key; the secret is in key/token/api_key, this one time")
async def create_key(body: ApiKeyCreate, ctx: Manager, request: Request) -> Data[ApiKeyCreated]:
    key, secret = await ctx.run(
        service.mint_key,
        name=body.name,
        scopes=body.scopes,
        expires_at=body.expires_at,
        granted_by=ctx.principal,
    )
    return _once(request, ApiKeyCreated.with_secret(key, secret))


@router.get("", response_model=DataList[ApiKeyPublic], summary="List keys (never their secrets)")
async def list_keys(
    ctx: Manager, paging: Paging, status: Annotated[str | None, Query()] = None
) -> DataList[ApiKeyPublic]:
    page = await ctx.run(service.list_keys, limit=paging.limit, cursor=paging.cursor,
                             offset=paging.offset, status=status)
    return DataList(data=[ApiKeyPublic.of(k) for k in page.items], next_cursor=page.next_cursor,
                    meta=paging.meta(page.total))


@router.get("/{key_id}", response_model=Data[ApiKeyPublic], summary="One key")
async def get_key(key_id: str, ctx: Manager) -> Data[ApiKeyPublic]:
    return Data(data=ApiKeyPublic.of(await ctx.run(service.get_key, key_id)))


@router.patch("/{key_id}", response_model=Data[ApiKeyPublic], summary="Rename, rescope or revoke")
async def update_key(key_id: str, body: ApiKeyUpdate, ctx: Manager) -> Data[ApiKeyPublic]:
    key = await ctx.run(service.update_key, key_id, name=body.name, scopes=body.scopes,
                             status=body.status, by=ctx.principal, now=ctx.now)
    return Data(data=ApiKeyPublic.of(key))


@router.delete("/{key_id}", response_model=Data[ApiKeyPublic],
               summary="Revoke a key; the next request with it is refused")
async def revoke_key(key_id: str, ctx: Manager) -> Data[ApiKeyPublic]:
    key = await ctx.run(service.revoke_key, key_id, now=ctx.now, by=ctx.principal)
    return Data(data=ApiKeyPublic.of(key))


@router.post("/{key_id}/rotate", response_model=Data[ApiKeyCreated],
             summary="A new secret for the key; the old one stops working at once")
async def rotate_key(key_id: str, ctx: Manager, request: Request) -> Data[ApiKeyCreated]:
    key, secret = await ctx.run(service.rotate_key, key_id, by=ctx.principal)
    return _once(request, ApiKeyCreated.with_secret(key, secret))


def _once(request: Request, created: ApiKeyCreated) -> Data[ApiKeyCreated]:
    """The secret goes to this response only; an Idempotency-Key replay gets the record without."""
    setattr(request.state, REPLAY_BODY, redacted_for_replay(created))
    return Data(data=created)


