"""Browser tokens (mint with a permission picker, list, revoke), the origins they may be used
from, and the organization's API keys (create, list, revoke)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from hostplane.console.web import ConsoleRoute, Page, container_of, parse, redirect
from hostplane.keys import service as keys
from hostplane.keys.schemas import ApiKeyCreate, ApiKeyPublic
from hostplane.tenancy.permissions import BROWSER
from hostplane.tokens import service as tokens
from hostplane.tokens.schemas import BrowserOrigins, BrowserTokenCreate, BrowserTokenPublic

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
Text = Annotated[str, Form(max_length=2000)]


async def _tokens_page(con: Page, minted: str | None = None, status_code: int = 200
                       ) -> HTMLResponse:
    con.need("browser_token:create")
    page = await con.run(tokens.list_tokens, limit=100, cursor=None, offset=0,
                         external_user_id=None)
    origins = await con.run(tokens.get_origins)
    found = [BrowserTokenPublic.of(t, con.ctx.now) for t in page.items]
    return con.page("tokens.html", status_code, tokens=list(reversed(found)), minted=minted,
                    permissions=sorted(BROWSER), origins=origins)


@router.get("/tokens")
async def tokens_page(con: Page) -> HTMLResponse:
    return await _tokens_page(con)


@router.post("/tokens")
async def token_mint(con: Page, request: Request) -> HTMLResponse:
    """The token is shown once, on the page this answers (never in a URL or a cookie)."""
    con.need("browser_token:create")
    form = await request.form()
    body = parse(BrowserTokenCreate, permissions=[p for p in form.getlist("permissions")
                                                  if isinstance(p, str)] or None,
                 workspace_id=form.get("workspace_id"), project_id=form.get("project_id"),
                 external_user_id=form.get("external_user_id"),
                 ttl_seconds=_number(form.get("ttl_seconds")))
    container = container_of(request)
    minted = await con.run(tokens.mint, con.ctx.principal, body.request(), container.key_ring,
                           con.ctx.settings.api_url, con.ctx.now)
    await con.audit("browser_token.create", "browser_token", minted.record.id, 201)
    return await _tokens_page(con, minted=minted.token, status_code=201)


def _number(value: object) -> object:
    return int(value) if isinstance(value, str) and value.isdigit() else value


@router.post("/tokens/{token_id}/revoke")
async def token_revoke(token_id: str, con: Page) -> Response:
    con.need("browser_token:create")
    await con.run(tokens.revoke, token_id, con.ctx.now)
    await con.audit("browser_token.delete", "browser_token", token_id, 303)
    return redirect("/tokens")


@router.post("/tokens/origins")
async def origins_set(con: Page, origins: Text = "") -> Response:
    con.need("organization:manage")
    body = parse(BrowserOrigins, origins=[o.strip() for o in origins.splitlines() if o.strip()])
    await con.run(tokens.set_origins, body.origins)
    await con.audit("browser_origins.update", "browser_origins", None, 303)
    return redirect("/tokens#origins")


async def _keys_page(con: Page, created: str | None = None, status_code: int = 200
                     ) -> HTMLResponse:
    con.need("api_key:manage")
    page = await con.run(keys.list_keys, limit=100, cursor=None, offset=0, status=None)
    return con.page("keys.html", status_code, keys=[ApiKeyPublic.of(k) for k in page.items],
                    created=created, own=con.ctx.principal.subject_id)


@router.get("/keys")
async def keys_page(con: Page) -> HTMLResponse:
    return await _keys_page(con)


@router.post("/keys")
async def key_create(con: Page, name: Text = "") -> HTMLResponse:
    con.need("api_key:manage")
    body = parse(ApiKeyCreate, name=name)
    key, secret = await con.run(keys.mint_key, name=body.name, scopes=None, expires_at=None,
                                granted_by=con.ctx.principal)
    await con.audit("api_key.create", "api_key", key.id, 201)
    return await _keys_page(con, created=secret, status_code=201)


@router.post("/keys/{key_id}/revoke")
async def key_revoke(key_id: str, con: Page) -> Response:
    con.need("api_key:manage")
    await con.run(keys.revoke_key, key_id, now=con.ctx.now, by=con.ctx.principal)
    await con.audit("api_key.delete", "api_key", key_id, 303)
    return redirect("/keys")
