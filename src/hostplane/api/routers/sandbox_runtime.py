"""A sandbox's lifecycle after create (stop, start, pause, resume) and its listening ports
(issue "Local compute driver" §2, §4)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from hostplane.api.deps import RequestContext, needs
from hostplane.api.envelopes import Data
from hostplane.resources import sandbox_lifecycle
from hostplane.resources.process_schemas import PortPublic, PortsPublic
from hostplane.resources.sandbox_schemas import SandboxPublic
from hostplane.resources.sandboxes import listening_ports

router = APIRouter(prefix="/sandboxes/{sandbox_id}", tags=["sandboxes"])

Reader = Annotated[RequestContext, needs("sandbox:read")]
Writer = Annotated[RequestContext, needs("sandbox:write")]


@router.post("/stop", response_model=Data[SandboxPublic],
             summary="Stop every process of the sandbox; its files stay (start brings it back)")
async def stop_sandbox(sandbox_id: str, ctx: Writer) -> Data[SandboxPublic]:
    view = await ctx.run(sandbox_lifecycle.stop_sandbox, sandbox_id, ctx.env)
    return Data(data=SandboxPublic.of(view))


@router.post("/start", response_model=Data[SandboxPublic],
             summary="Start a stopped sandbox again, with the files it had")
async def start_sandbox(sandbox_id: str, ctx: Writer) -> Data[SandboxPublic]:
    view = await ctx.run(sandbox_lifecycle.start_sandbox, sandbox_id, ctx.env)
    return Data(data=SandboxPublic.of(view))


@router.post("/pause", response_model=Data[SandboxPublic],
             summary="Freeze every process of the sandbox where it is")
async def pause_sandbox(sandbox_id: str, ctx: Writer) -> Data[SandboxPublic]:
    view = await ctx.run(sandbox_lifecycle.pause_sandbox, sandbox_id, ctx.env)
    return Data(data=SandboxPublic.of(view))


@router.post("/resume", response_model=Data[SandboxPublic],
             summary="Let a paused sandbox's processes run on")
async def resume_sandbox(sandbox_id: str, ctx: Writer) -> Data[SandboxPublic]:
    view = await ctx.run(sandbox_lifecycle.resume_sandbox, sandbox_id, ctx.env)
    return Data(data=SandboxPublic.of(view))


@router.get("/ports", response_model=Data[PortsPublic],
            summary="The TCP ports something in the sandbox listens on, with their preview URLs")
async def list_ports(sandbox_id: str, ctx: Reader) -> Data[PortsPublic]:
    found = await ctx.run(listening_ports, sandbox_id, ctx.env)
    return Data(data=PortsPublic(sandbox_id=sandbox_id,
                                 ports=[PortPublic(port=p, url=u) for p, u in found]))
