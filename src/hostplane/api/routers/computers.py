"""Computers (contract §11.1): bare `Computer` objects, no envelope."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from starlette.concurrency import run_in_threadpool

from hostplane.api.deps import RequestContext, container_of, needs
from hostplane.api.envelopes import Paging
from hostplane.api.filters import Filters
from hostplane.db.scope import Scope
from hostplane.resources import computers, desktop, desktop_viewer
from hostplane.resources.computer_schemas import (
    ActionResponse,
    ComputerCreate,
    ComputerList,
    ComputerPublic,
    ComputerUpdate,
)

router = APIRouter(prefix="/computers", tags=["computers"])

Reader = Annotated[RequestContext, needs("computer:read")]
Writer = Annotated[RequestContext, needs("computer:write")]
Controller = Annotated[RequestContext, needs("computer:control")]


# Client quirk: the official clients decode computers bare (no {"data": …}), lists as
# {"computers": […], "total"} (contract §11.1).
@router.post("", response_model=ComputerPublic, status_code=status.HTTP_201_CREATED,
             summary="Create a desktop computer")
async def create_computer(body: ComputerCreate, ctx: Writer) -> ComputerPublic:
    return ComputerPublic.of(await ctx.run(computers.create_computer, body, ctx.env))


@router.get("", response_model=ComputerList, summary="List computers")
async def list_computers(ctx: Reader, paging: Paging, filters: Filters) -> ComputerList:
    page = await ctx.run(computers.list_computers, filters, ctx.env, limit=paging.limit,
                         cursor=paging.cursor, offset=paging.offset)
    return ComputerList(computers=[ComputerPublic.of(v) for v in page.items], total=page.total,
                        next_cursor=page.next_cursor)


@router.get("/{computer_id}", response_model=ComputerPublic, summary="One computer")
async def get_computer(computer_id: str, ctx: Reader) -> ComputerPublic:
    return ComputerPublic.of(await ctx.run(computers.get_computer, computer_id, ctx.env))


@router.patch("/{computer_id}", response_model=ComputerPublic, summary="Rename or re-tag")
async def update_computer(computer_id: str, body: ComputerUpdate, ctx: Writer) -> ComputerPublic:
    return ComputerPublic.of(await ctx.run(computers.update_computer, computer_id, body, ctx.env))


@router.delete("/{computer_id}", response_model=ActionResponse, summary="Destroy a computer")
async def destroy_computer(computer_id: str, ctx: Writer) -> ActionResponse:
    computer = await ctx.run(computers.destroy_computer, computer_id, ctx.env)
    return ActionResponse(id=computer.id, status=computer.state,
                          message=f"Computer {computer.id} is destroyed.")


# Lifecycle (the client validates each answer as an ActionResponse).
@router.post("/{computer_id}/start", response_model=ActionResponse, summary="Start a computer")
async def start_computer(computer_id: str, ctx: Controller) -> ActionResponse:
    computer = await ctx.run(desktop.start, computer_id, ctx.env)
    return ActionResponse(id=computer.id, status=computer.state,
                          message=f"Computer {computer.id} is {computer.state}.")


@router.post("/{computer_id}/stop", response_model=ActionResponse, summary="Stop a computer")
async def stop_computer(computer_id: str, ctx: Controller) -> ActionResponse:
    computer = await ctx.run(desktop.stop, computer_id, ctx.env)
    return ActionResponse(id=computer.id, status=computer.state,
                          message=f"Computer {computer.id} is stopped.")


@router.post("/{computer_id}/restart", response_model=ActionResponse,
             summary="Restart a computer")
async def restart_computer(computer_id: str, ctx: Controller) -> ActionResponse:
    computer = await ctx.run(desktop.restart, computer_id, ctx.env)
    return ActionResponse(id=computer.id, status=computer.state,
                          message=f"Computer {computer.id} is {computer.state}.")


# Viewer grants (resources/desktop_viewer.py): the client unwraps `data` only when the body has
# at most two keys, so these answer bare objects.
@router.get("/{computer_id}/embed", summary="A short-lived URL that opens the desktop")
async def embed(computer_id: str, ctx: Controller, request: Request,
                ttl: Annotated[int | None, Query()] = None,
                mode: Annotated[str | None, Query(max_length=20)] = None,
                view_only: Annotated[bool | None, Query()] = None) -> dict[str, Any]:
    return await _writing(request, ctx, functools.partial(
        desktop_viewer.embed, by=ctx.principal, computer_id=computer_id, env=ctx.env,
        ring=container_of(request).key_ring, issuer=ctx.settings.api_url, ttl=ttl, mode=mode,
        view_only=view_only))


async def _writing(request: Request, ctx: RequestContext, fn: Any) -> Any:
    """`fn(scope)` in a write transaction of its own: a GET that records something (a viewer
    grant is a browser token row), where GETs otherwise get an autocommitting reader."""
    database, principal = container_of(request).database, ctx.principal

    def work() -> Any:
        with database.transaction() as session:
            return fn(Scope(session, principal.tenant_id, principal.limit))

    return await run_in_threadpool(work)


@router.get("/{computer_id}/viewer-password", summary="Whether a viewer password is set")
async def viewer_password(computer_id: str, ctx: Reader) -> dict[str, Any]:
    return await ctx.run(desktop_viewer.password_state, computer_id, ctx.env)


@router.post("/{computer_id}/viewer-password/rotate",
             summary="A new viewer password; every earlier viewer grant is revoked")
async def rotate_viewer_password(computer_id: str, ctx: Controller,
                                 request: Request) -> dict[str, Any]:
    return await ctx.run(desktop_viewer.rotate_password, ctx.principal, computer_id, ctx.env,
                         container_of(request).key_ring, ctx.settings.api_url)
