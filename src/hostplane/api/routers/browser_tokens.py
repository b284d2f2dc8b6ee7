"""Browser tokens (spec §9) and the official clients' scoped tokens (contract §15.1): minted by an
API key on the organization's backend, handed to a page, used as `Authorization: Bearer`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from hostplane.api.deps import RequestContext, container_of, needs
from hostplane.api.envelopes import Data, DataList, Paging
from hostplane.api.idempotency import REPLAY_BODY
from hostplane.tokens import service
from hostplane.tokens.schemas import (
    BrowserOrigins,
    BrowserOriginsPublic,
    BrowserTokenCreate,
    BrowserTokenCreated,
    BrowserTokenPublic,
    RevokedUser,
    RevokeUser,
    ScopedTokenCreate,
    redacted_for_replay,
)

router = APIRouter(tags=["browser tokens"])
public = APIRouter(tags=["browser tokens"])

Minter = Annotated[RequestContext, needs("browser_token:create")]


async def _mint(ctx: RequestContext, request: Request,
                body: BrowserTokenCreate | ScopedTokenCreate) -> Data[BrowserTokenCreated]:
    req = body.request()
    container = container_of(request)
    minted = await ctx.run(service.mint, ctx.principal, req, container.key_ring,
                           ctx.settings.api_url, ctx.now)
    created = BrowserTokenCreated(**BrowserTokenPublic.of(minted.record, ctx.now).model_dump(),
                                  token=minted.token, ttl_seconds=req.ttl_seconds)
    setattr(request.state, REPLAY_BODY, redacted_for_replay(created))  # shown once
    return Data(data=created)


@router.post("/browser-tokens", response_model=Data[BrowserTokenCreated], status_code=201,
             summary="Mint a short-lived browser token for an end user (API keys only)")
async def create_browser_token(body: BrowserTokenCreate, ctx: Minter,
                               request: Request) -> Data[BrowserTokenCreated]:
    return await _mint(ctx, request, body)


# The client contract's suggested alias for the TypeScript seed's browserTokens.create.
router.add_api_route("/tokens/browser", create_browser_token, methods=["POST"],
                     response_model=Data[BrowserTokenCreated], status_code=201,
                     summary="Same as POST /browser-tokens", name="create_tokens_browser")


@router.post("/tokens/scoped", response_model=Data[BrowserTokenCreated], status_code=201,
             summary="Mint a scoped token (the official clients' tokens.create_scoped)")
async def create_scoped_token(body: ScopedTokenCreate, ctx: Minter,
                              request: Request) -> Data[BrowserTokenCreated]:
    return await _mint(ctx, request, body)


async def list_tokens(ctx: Minter, paging: Paging, external_user_id: Annotated[
        str | None, Query(max_length=200)] = None) -> DataList[BrowserTokenPublic]:
    page = await ctx.run(service.list_tokens, limit=paging.limit, cursor=paging.cursor,
                         offset=paging.offset, external_user_id=external_user_id)
    return DataList(data=[BrowserTokenPublic.of(t, ctx.now) for t in page.items],
                    next_cursor=page.next_cursor, meta=paging.meta(page.total))


async def revoke_token(token_id: str, ctx: Minter) -> Data[BrowserTokenPublic]:
    record = await ctx.run(service.revoke, token_id, ctx.now)
    return Data(data=BrowserTokenPublic.of(record, ctx.now))


for base, kind in (("/browser-tokens", ""), ("/tokens/scoped", "_scoped")):
    router.add_api_route(base, list_tokens, methods=["GET"],
                         response_model=DataList[BrowserTokenPublic],
                         summary="Tokens issued (never the tokens themselves), newest last",
                         name=f"list{kind}_tokens")
    router.add_api_route(f"{base}/{{token_id}}", revoke_token, methods=["DELETE"],
                         response_model=Data[BrowserTokenPublic],
                         summary="Revoke one token; its next request is refused",
                         name=f"revoke{kind}_token")


@router.post("/browser-tokens/revoke-user", response_model=Data[RevokedUser],
             summary="Revoke every token an external user holds now")
async def revoke_user(body: RevokeUser, ctx: Minter) -> Data[RevokedUser]:
    """Every token `external_user_id` holds now is refused from its next request on (an end
    user who signs out everywhere, or leaves); tokens minted later work. Answers how many."""
    count = await ctx.run(service.revoke_user, body.external_user_id, ctx.now)
    return Data(data=RevokedUser(external_user_id=body.external_user_id, revoked=count,
                                 revoked_before=ctx.now))


@router.get("/tenant/browser-origins", response_model=BrowserOriginsPublic,
            summary="Web origins browser tokens may be used from")
async def get_origins(
        ctx: Annotated[RequestContext, needs("organization:read")]) -> BrowserOriginsPublic:
    return BrowserOriginsPublic(origins=await ctx.run(service.get_origins))


@router.put("/tenant/browser-origins", response_model=BrowserOriginsPublic,
            summary="Set the web origins browser tokens may be used from (CORS)")
async def set_origins(body: BrowserOrigins, ctx: Annotated[
        RequestContext, needs("organization:manage")]) -> BrowserOriginsPublic:
    """The web origins (scheme://host[:port]) whose pages may call the API with a browser
    token: CORS answers them, and no other origin."""
    return BrowserOriginsPublic(origins=await ctx.run(service.set_origins, body.origins))


@public.get("/.well-known/jwks.json", summary="Public keys that verify browser tokens (JWKS)")
async def jwks(request: Request, response: Response) -> dict[str, object]:
    keys = await run_in_threadpool(container_of(request).key_ring.keys)
    response.headers["cache-control"] = "public, max-age=60"  # a revoked key leaves caches soon
    return keys.jwks
