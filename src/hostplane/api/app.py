"""The composition root of the HTTP API: create_app(settings) wires everything, nothing at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hostplane import __version__
from hostplane import console
from hostplane.api import openapi, problems
from hostplane.api.audit import AuditMiddleware
from hostplane.api.auth import AuthenticationMiddleware
from hostplane.api.container import Container
from hostplane.api.idempotency import IdempotencyMiddleware
from hostplane.api.middleware import RequestContextMiddleware
from hostplane.api.routers import (
    api_keys,
    audit,
    branding,
    browser_tokens,
    computer_desktop,
    computers,
    custom_domains,
    databases,
    deployments,
    events,
    health,
    previews,
    projects,
    sandbox_files,
    sandbox_processes,
    sandbox_runtime,
    sandboxes,
    tenant_domains,
    tenants,
    tls,
    usage,
    versions,
    webhooks,
    workspaces,
)
from hostplane.branding.assets import MAX_BYTES
from hostplane.clock import Clock
from hostplane.compute.releases import MAX_ARCHIVE_BYTES
from hostplane.db.migrate import upgrade
from hostplane.settings import Settings, get_settings

API_PREFIX = "/api/v1"
UPLOAD_LIMIT = MAX_BYTES + 64 * 1024  # an image and its multipart envelope


def create_app(
    settings: Settings | None = None,
    *,
    container: Container | None = None,
    clock: Clock | None = None,
    migrate: bool = True,
) -> FastAPI:
    """Build the API. `migrate` applies database migrations before the first request."""
    settings = settings or (container.settings if container else get_settings())
    container = container or Container.build(settings, clock=clock)
    if migrate:
        upgrade(container.database)
    container.start()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        container.stop()  # close database connections, so SQLite folds its WAL back in

    app = FastAPI(
        lifespan=lifespan,
        title="hostplane",
        version=__version__,
        description="Self-hostable white-label platform API.",
        openapi_url="/openapi.json",
        docs_url=None,  # served by openapi.install, without a CDN
        redoc_url=None,
        openapi_tags=openapi.TAGS,
        generate_unique_id_function=openapi.operation_id,
        servers=[{"url": "/", "description": "This server"},
                 {"url": settings.api_url, "description": "The API's public URL "
                                                           "(HOSTPLANE_API_URL)"}],
    )
    app.state.container = container
    problems.install(app)
    # Starlette runs the last-added middleware first: request ids, limits and 500s wrap
    # authentication, which wraps idempotency, which wraps the audit log, which wraps the routes.
    app.add_middleware(AuditMiddleware, container=container, prefix=API_PREFIX + "/")
    app.add_middleware(IdempotencyMiddleware, container=container)
    app.add_middleware(AuthenticationMiddleware, container=container)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes,
                       metrics=container.metrics, prefix=API_PREFIX,
                       large_bodies={**{f"^{API_PREFIX}{p}$": UPLOAD_LIMIT
                                        for p in branding.UPLOAD_SUFFIXES},
                                     versions.UPLOAD_PATH: MAX_ARCHIVE_BYTES,
                                     **{p: UPLOAD_LIMIT for p in console.UPLOAD_PATHS}})

    app.include_router(health.router)
    app.include_router(browser_tokens.public)
    app.include_router(branding.public)
    app.include_router(tls.router)  # Caddy's on-demand TLS check: by network, not credential
    # Deny by default: AuthenticationMiddleware refuses any /api/v1 request without a valid
    # credential; public routes (health) live outside the prefix. Area routers are included
    # straight into the app: every level of router nesting costs route matching time on every
    # request.
    for area in (tenants, tenant_domains, workspaces, projects, sandboxes, sandbox_runtime,
                 sandbox_files, sandbox_processes,
                 previews, databases, deployments, computers, computer_desktop, custom_domains,
                 usage, api_keys,
                 browser_tokens, branding, audit, versions, events, webhooks):
        app.include_router(area.router, prefix=API_PREFIX, responses=problems.ERROR_RESPONSES)
    openapi.install(app, prefix=API_PREFIX)
    console.install(app)  # the web console's pages at /, on the same services
    return app


def from_environment() -> FastAPI:
    """The API of one of `hostplane api --workers N`'s processes, configured from HOSTPLANE_*;
    the command has applied the migrations once before starting them."""
    return create_app(migrate=False)
