"""Signing in and out, the setup gate's page (name → permanent slug, then the checklist) and the
overview."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from hostplane import errors
from hostplane.console import sessions
from hostplane.console.web import (
    ConsoleRoute,
    Page,
    SetupPage,
    SignInNeeded,
    container_of,
    error_page,
    record,
    redirect,
    signed_in,
    template,
)
from hostplane.tenancy import checklist, slugs
from hostplane.tenancy.organizations import setup_organization
from hostplane.tokens.auth import looks_like_token

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

# Where each checklist step is done in the console.
STEP_PAGES = {"organization_name": "/setup", "permanent_slug": "/setup",
              "workspaces": "/workspaces", "projects": "/workspaces", "store_ids": "/workspaces",
              "fallback_urls": "/workspaces", "preview_domain": "/domains",
              "deployment_domain": "/domains", "custom_domains": "/domains",
              "branding": "/branding", "browser_tokens": "/tokens",
              "browser_origins": "/tokens"}


def _next(value: str | None) -> str:
    """Only a path of this site: never another origin (//host, /\\host)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


def _signin_page(request: Request, *, status: int = 200, error: errors.HostplaneError | None = None,
                 next_path: str = "/") -> HTMLResponse:
    secret = request.cookies.get(sessions.SIGNIN_COOKIE) or sessions.new_secret()
    response = template("signin.html", status, con=None, org=None, brand=None,
                        csrf=sessions.csrf_token(secret), path="/signin", error=error,
                        fix=error.details.get("fix") if error else None,
                        request_id=getattr(request.state, "request_id", ""), next=next_path)
    _set_cookie(request, response, sessions.SIGNIN_COOKIE, secret, max_age=3600)
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, *,
                max_age: int | None = None) -> None:
    settings = container_of(request).settings
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                        secure=settings.public_scheme == "https", samesite="lax")


@router.get("/signin")
async def signin_form(request: Request, next: Annotated[str | None, Query()] = None) -> Response:
    try:
        await signed_in(request, gate=False)
        return redirect(_next(next))
    except SignInNeeded:
        return _signin_page(request, next_path=_next(next))


@router.post("/signin")
async def signin(request: Request, key: Annotated[str, Form()] = "",
                 csrf: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    container = container_of(request)
    if not sessions.csrf_ok(request.cookies.get(sessions.SIGNIN_COOKIE), csrf):
        refusal = errors.Forbidden(
            "This sign-in form is not from this console (its security token is missing or "
            "does not match).", code="CSRF_FAILED", fix="Reload the sign-in page and try again.")
        return _signin_page(request, status=403, error=refusal, next_path=_next(next))
    key = key.strip()
    try:
        if not key:
            raise errors.Invalid("Enter an API key.", field="key", rule="required",
                                 fix="Paste an API key (msk_…) of your organization.")
        if looks_like_token(key):
            raise errors.Unauthenticated(
                "Browser tokens can't sign in to the console.", code="INVALID_API_KEY",
                fix="Sign in with an API key of your organization.")
        principal = await run_in_threadpool(container.authenticator.lookup, key, None)
        now = container.clock.now()
        session_id, secret = await run_in_threadpool(sessions.open_session, container.database,
                                                     principal, container.settings, now)
    except errors.HostplaneError as exc:
        return _signin_page(request, status=exc.status, error=exc, next_path=_next(next))
    await run_in_threadpool(record, container, principal, "console_session.create",
                            "console_session", session_id, request, 303)
    response = redirect(_next(next))
    _set_cookie(request, response, sessions.COOKIE, secret)
    response.delete_cookie(sessions.SIGNIN_COOKIE, path="/")
    return response


@router.post("/signout")
async def signout(con: SetupPage, request: Request) -> Response:
    container = container_of(request)
    await run_in_threadpool(sessions.end_session, container.database, con.signed.id,
                            con.ctx.now)
    await con.audit("console_session.delete", "console_session", con.signed.id, 303)
    response = redirect("/signin")
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


@router.get("/setup")
async def setup_page(con: SetupPage) -> HTMLResponse:
    con.need("organization:read")
    steps = None if con.organization.setup_required else await con.run(checklist.checklist)
    return con.page("setup.html", steps=steps, pages=STEP_PAGES)


@router.get("/setup/slug")
async def slug_preview(con: SetupPage, name: Annotated[str, Query(max_length=200)] = ""
                       ) -> HTMLResponse:
    """The permanent slug a name would give, as the setup form is typed (htmx)."""
    con.need("organization:read")
    slug, problem = None, None
    if name.strip():
        try:
            slug = slugs.organization_slug(name)
        except errors.HostplaneError as exc:
            problem = exc
    return con.page("_slug.html", slug=slug, problem=problem)


@router.post("/setup")
async def setup(con: SetupPage, name: Annotated[str, Form(max_length=200)] = "") -> Response:
    con.need("organization:manage")
    tenant = await con.run(setup_organization, con.organization.id, name=name, slug=None,
                               now=con.ctx.now)
    await con.audit("tenant.update", "tenant", tenant.id, 303)
    return redirect("/setup")


@router.get("/")
async def overview(con: Page) -> HTMLResponse:
    con.need("organization:read")
    steps = await con.run(checklist.checklist)
    return con.page("overview.html", steps=steps, pages=STEP_PAGES)


__all__ = ["router", "error_page"]
