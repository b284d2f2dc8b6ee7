"""Computers (contract §11.1): bare `Computer` objects, no envelope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from hostplane.api.deps import RequestContext, needs
from hostplane.api.envelopes import Paging
from hostplane.api.filters import Filters
from hostplane.resources import computers
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
