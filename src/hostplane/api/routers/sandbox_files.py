"""Commands and files in a sandbox (contract §8.4). The database is read once to check the
sandbox can take commands; the driver's work happens after, with no session held."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from hostplane.api.deps import RequestContext, needs
from hostplane.api.envelopes import Data
from hostplane.compute.port import WORKSPACE
from hostplane.resources.file_schemas import (
    ExecPublic,
    ExecRequest,
    FileEntryPublic,
    FileListPublic,
    FileWrite,
    PathRequest,
)
from hostplane.resources.sandboxes import runnable_sandbox

router = APIRouter(prefix="/sandboxes/{sandbox_id}", tags=["sandbox files"])

Exec = Annotated[RequestContext, needs("sandbox:exec")]
MAX_DOWNLOAD = 32 * 1024 * 1024
OCTETS = {200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes"}}


@router.post("/exec", response_model=Data[ExecPublic],
             summary="Run a shell command in the sandbox and wait for it")
async def exec_command(sandbox_id: str, body: ExecRequest, ctx: Exec) -> Data[ExecPublic]:
    """Runs `command` with `/bin/sh -c` in the sandbox's working directory (or `cwd`) and
    answers once it has ended: its stdout and stderr (each kept up to 1 MiB; `truncated`
    says when more was cut), `exit_code`, and `timed_out` when `timeout` ran out (the
    command is then killed and `exit_code` is 124). A command that fails is still a 200:
    read `exit_code`. A stopped or paused sandbox is 409 with the fix."""
    cwd, timeout = body.limits(ctx.settings.exec_timeout_max_seconds)
    sandbox = await ctx.run(runnable_sandbox, sandbox_id)
    env = {**sandbox.env, **(body.env or {})}
    result = await ctx.call(ctx.env.driver.exec, sandbox.id, body.command, cwd=cwd, env=env,
                            timeout=timeout)
    return Data(data=ExecPublic.of(result))


@router.post("/fs/write", response_model=Data[FileEntryPublic], summary="Write a file")
async def write_file(sandbox_id: str, body: FileWrite, ctx: Exec) -> Data[FileEntryPublic]:
    return await _write(sandbox_id, body, ctx, legacy=False)


@router.post("/files", response_model=Data[FileEntryPublic],
             summary="Write a file (legacy: content is base64)")
async def write_file_legacy(sandbox_id: str, body: FileWrite, ctx: Exec) -> Data[FileEntryPublic]:
    return await _write(sandbox_id, body, ctx, legacy=True)


@router.get("/fs/download", response_class=Response, responses=OCTETS, summary="Read a file")
async def download(sandbox_id: str, ctx: Exec,
                   path: Annotated[str, Query(min_length=1, max_length=4096)]) -> Response:
    return await _read(sandbox_id, path, ctx)


@router.get("/files", response_model=Data[FileListPublic], summary="List files")
async def list_files(
    sandbox_id: str, ctx: Exec,
    path: Annotated[str, Query(min_length=1, max_length=4096)] = WORKSPACE,
    depth: Annotated[int, Query(ge=1, le=10)] = 1,
) -> Data[FileListPublic]:
    sandbox = await ctx.run(runnable_sandbox, sandbox_id)
    entries = await ctx.call(ctx.env.driver.list_files, sandbox.id, path, depth=depth)
    return Data(data=FileListPublic(path=path, depth=depth,
                                    entries=[FileEntryPublic.of(e) for e in entries]))


@router.post("/fs/stat", response_model=Data[FileEntryPublic], summary="One file's details")
async def stat(sandbox_id: str, body: PathRequest, ctx: Exec) -> Data[FileEntryPublic]:
    return await _stat(sandbox_id, body.path, ctx)


@router.post("/files/stat", response_model=Data[FileEntryPublic],
             summary="One file's details (legacy path)")
async def stat_legacy(sandbox_id: str, body: PathRequest, ctx: Exec) -> Data[FileEntryPublic]:
    return await _stat(sandbox_id, body.path, ctx)


@router.get("/files/{file_path:path}", response_class=Response, responses=OCTETS,
            summary="Read a file (legacy: the path percent-encoded in the URL)")
async def download_legacy(sandbox_id: str, file_path: str, ctx: Exec) -> Response:
    return await _read(sandbox_id, file_path, ctx)  # Starlette has decoded it once already


async def _write(sandbox_id: str, body: FileWrite, ctx: RequestContext, *,
                 legacy: bool) -> Data[FileEntryPublic]:
    data = body.data(legacy=legacy)
    sandbox = await ctx.run(runnable_sandbox, sandbox_id)
    entry = await ctx.call(ctx.env.driver.write_file, sandbox.id, body.path, data)
    return Data(data=FileEntryPublic.of(entry))


async def _read(sandbox_id: str, path: str, ctx: RequestContext) -> Response:
    sandbox = await ctx.run(runnable_sandbox, sandbox_id)
    data = await ctx.call(ctx.env.driver.read_file, sandbox.id, path, max_bytes=MAX_DOWNLOAD)
    return Response(data, media_type="application/octet-stream")


async def _stat(sandbox_id: str, path: str, ctx: RequestContext) -> Data[FileEntryPublic]:
    sandbox = await ctx.run(runnable_sandbox, sandbox_id)
    return Data(data=FileEntryPublic.of(await ctx.call(ctx.env.driver.stat, sandbox.id, path)))
