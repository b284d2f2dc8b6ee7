"""A sandbox's commands as they run: exec with streamed output (contract §8.4, SSE) and
background processes with their logs (issue "Local compute driver" §3)."""

from __future__ import annotations

import codecs
from collections.abc import Generator, Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import StreamingResponse

from hostplane.api import sse
from hostplane.api.deps import RequestContext, needs
from hostplane.api.envelopes import Data
from hostplane.compute.port import ComputeDriver, ExecResult
from hostplane.resources.file_schemas import ExecRequest
from hostplane.resources.process_schemas import (
    OutputPublic,
    ProcessCreate,
    ProcessPublic,
    check_offsets,
)
from hostplane.resources.sandboxes import runnable_sandbox

router = APIRouter(prefix="/sandboxes/{sandbox_id}", tags=["sandbox processes"])

Exec = Annotated[RequestContext, needs("sandbox:exec")]
# A process's record and output stay readable while its sandbox is paused or stopped.
INSPECTABLE = ("running", "paused", "stopped")


@router.post("/exec/stream", response_class=StreamingResponse, responses=sse.RESPONSES,
             summary="Run a shell command and stream its output as server-sent events: "
                     "`stdout` and `stderr` frames of {line}, then one `exit` frame")
async def exec_stream(sandbox_id: str, body: ExecRequest, ctx: Exec) -> StreamingResponse:
    cwd, timeout = body.limits(ctx.settings.exec_timeout_max_seconds)
    sandbox = await ctx.run(runnable_sandbox, sandbox_id)
    env = {**sandbox.env, **(body.env or {})}
    output = await ctx.call(ctx.env.driver.exec_stream, sandbox.id, body.command, cwd=cwd,
                            env=env, timeout=timeout)
    return await sse.stream(_exec_frames(output), ctx.call)


def _exec_frames(output: Generator[tuple[str, bytes], None, ExecResult]) -> Iterator[bytes]:
    lines = sse.Lines()
    try:
        while True:
            try:
                kind, chunk = next(output)
            except StopIteration as done:
                result: ExecResult = done.value
                break
            if kind in ("started", "tick"):
                yield b""  # nothing to send; a client that left is noticed here
            else:
                yield from lines.feed(kind, chunk)
    finally:
        output.close()  # a client that left ends the command
    yield from lines.flush()
    yield sse.frame("exit", {"exit_code": result.exit_code, "exitCode": result.exit_code,
                             "duration_ms": result.duration_ms, "timed_out": result.timed_out})


@router.post("/processes", response_model=Data[ProcessPublic],
             status_code=status.HTTP_201_CREATED,
             summary="Start a command in the background; it runs until it ends, is stopped, its "
                     "timeout runs out or the sandbox stops")
async def start_process(sandbox_id: str, body: ProcessCreate, ctx: Exec) -> Data[ProcessPublic]:
    """Answers at once with the process's id; read its output with GET
    …/processes/{process_id}/logs, stop it with DELETE. Use it for dev servers: whatever it
    listens on appears in GET …/ports with a preview URL."""
    sandbox = await ctx.run(runnable_sandbox, sandbox_id)
    env = {**sandbox.env, **(body.env or {})}
    info = await ctx.call(ctx.env.driver.start_process, sandbox.id, body.command,
                          cwd=body.directory, env=env, timeout=body.seconds)
    return Data(data=ProcessPublic.of(info))


@router.get("/processes", response_model=Data[list[ProcessPublic]],
            summary="The sandbox's background processes, running and ended, oldest first")
async def list_processes(sandbox_id: str, ctx: Exec) -> Data[list[ProcessPublic]]:
    sandbox = await ctx.run(runnable_sandbox, sandbox_id, states=INSPECTABLE)
    found = await ctx.call(ctx.env.driver.list_processes, sandbox.id)
    return Data(data=[ProcessPublic.of(info) for info in found])


@router.get("/processes/{process_id}", response_model=Data[ProcessPublic],
            summary="One background process")
async def get_process(sandbox_id: str, process_id: str, ctx: Exec) -> Data[ProcessPublic]:
    sandbox = await ctx.run(runnable_sandbox, sandbox_id, states=INSPECTABLE)
    return Data(data=ProcessPublic.of(
        await ctx.call(ctx.env.driver.get_process, sandbox.id, process_id)))


@router.delete("/processes/{process_id}", response_model=Data[ProcessPublic],
               summary="Stop a background process and everything it started")
async def stop_process(sandbox_id: str, process_id: str, ctx: Exec) -> Data[ProcessPublic]:
    sandbox = await ctx.run(runnable_sandbox, sandbox_id, states=("running", "stopped"))
    return Data(data=ProcessPublic.of(
        await ctx.call(ctx.env.driver.stop_process, sandbox.id, process_id)))


@router.get("/processes/{process_id}/logs", response_model=Data[OutputPublic],
            responses=sse.RESPONSES,
            summary="A process's output (stdout and stderr together): a piece of it, or with "
                    "follow=true (or Accept: text/event-stream) `output` frames as it comes, then "
                    "an `exit` frame")
async def process_logs(
    sandbox_id: str, process_id: str, ctx: Exec, request: Request,
    offset: Annotated[int | None, Query(ge=0, description="From this byte offset")] = None,
    tail: Annotated[int | None, Query(ge=0, le=1024 * 1024,
                                      description="Only the last this many bytes")] = None,
    follow: Annotated[bool, Query(description="Keep the stream open until the process ends")]
    = False,
) -> Data[OutputPublic] | StreamingResponse:
    check_offsets(offset, tail)
    sandbox = await ctx.run(runnable_sandbox, sandbox_id, states=INSPECTABLE)
    driver = ctx.env.driver
    chunk = await ctx.call(driver.read_output, sandbox.id, process_id, offset=offset, tail=tail)
    if follow or sse.MEDIA_TYPE in request.headers.get("accept", ""):
        return await sse.stream(_follow(driver, sandbox.id, process_id, chunk.offset),
                                ctx.call)
    return Data(data=OutputPublic.of(chunk))


def _follow(driver: ComputeDriver, sandbox_id: str, process_id: str,
            offset: int) -> Iterator[bytes | None]:
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    while True:
        chunk = driver.read_output(sandbox_id, process_id, offset=offset)
        if chunk.data:
            yield sse.frame("output", {"text": decoder.decode(chunk.data), "offset": chunk.offset})
        if chunk.done:
            break
        offset = chunk.next_offset
        if not chunk.data:
            yield None  # nothing new: ask again shortly
    info = driver.get_process(sandbox_id, process_id)
    yield sse.frame("exit", {"state": info.state, "exit_code": info.exit_code,
                             "truncated": chunk.truncated})
