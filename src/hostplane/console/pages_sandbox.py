"""One sandbox: its state and URLs, a command box whose output streams into the page as the
command runs (plain HTML, no script needed), and its background processes with their logs."""

from __future__ import annotations

import codecs
import html
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from hostplane.compute.port import ExecResult
from hostplane.console.pages_resources import urls_of
from hostplane.console.web import HEADERS, Console, ConsoleRoute, Page, parse, redirect
from hostplane.resources import sandboxes
from hostplane.resources.file_schemas import ExecRequest
from hostplane.resources.process_schemas import OutputPublic, ProcessCreate, ProcessPublic
from hostplane.resources.sandbox_schemas import SandboxPublic
from hostplane.resources.sandboxes import runnable_sandbox

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
INSPECTABLE = ("running", "paused", "stopped")
LOG_TAIL = 64 * 1024
_END = object()


async def _processes(con: Console, sandbox: SandboxPublic) -> list[ProcessPublic]:
    if sandbox.state not in INSPECTABLE or not con.ctx.principal.can("sandbox:exec"):
        return []
    found = await con.call(con.ctx.env.driver.list_processes, sandbox.id)
    return [ProcessPublic.of(p) for p in found]


@router.get("/sandboxes/{sandbox_id}")
async def sandbox_page(sandbox_id: str, con: Page) -> HTMLResponse:
    con.need("sandbox:read")
    sandbox = SandboxPublic.of(await con.run(sandboxes.get_sandbox, sandbox_id, con.ctx.env))
    ports = []
    if sandbox.state == "running":
        ports = await con.run(sandboxes.listening_ports, sandbox_id, con.ctx.env)
    return con.page("sandbox.html", sandbox=sandbox, urls=urls_of(sandbox), ports=ports,
                    processes=await _processes(con, sandbox))


@router.post("/sandboxes/{sandbox_id}/exec")
async def sandbox_exec(sandbox_id: str, con: Page,
                       command: Annotated[str, Form(max_length=100_000)] = "") -> Response:
    """The page is sent in pieces: its head, each line of output as the command writes it,
    then the exit code. A browser shows each piece as it arrives."""
    con.need("sandbox:exec")
    body = parse(ExecRequest, command=command)
    cwd, timeout = body.limits(con.ctx.settings.exec_timeout_max_seconds)
    sandbox = await con.run(runnable_sandbox, sandbox_id)
    output = await con.call(con.ctx.env.driver.exec_stream, sandbox.id, body.command, cwd=cwd,
                            env=dict(sandbox.env), timeout=timeout)
    await con.audit("sandbox.exec", "sandbox", sandbox_id)
    page = con.page("exec.html", sandbox_id=sandbox_id, command=body.command).body.decode()
    head, _, tail = page.partition("<!--output-->")
    pieces = _pieces(output)

    async def stream() -> AsyncIterator[bytes]:
        yield head.encode()
        try:
            while True:
                piece = await con.call(next, pieces, _END)
                if piece is _END:
                    break
                if piece:
                    yield piece
        finally:
            with anyio.CancelScope(shield=True):
                await con.call(pieces.close)
        yield tail.encode()

    return StreamingResponse(stream(), media_type="text/html; charset=utf-8",
                             headers={**HEADERS, "X-Accel-Buffering": "no"})


def _pieces(output: Generator[tuple[str, bytes], None, ExecResult]) -> Iterator[bytes]:
    decoders = {k: codecs.getincrementaldecoder("utf-8")("replace") for k in ("stdout", "stderr")}
    try:
        while True:
            try:
                kind, chunk = next(output)
            except StopIteration as done:
                result: ExecResult = done.value
                break
            if kind in decoders:
                text = decoders[kind].decode(chunk)
                if text:
                    css = ' class="stderr"' if kind == "stderr" else ""
                    yield f"<span{css}>{html.escape(text)}</span>".encode()
            else:
                yield b""
    finally:
        output.close()  # a browser that left ends the command
    state = "timed out" if result.timed_out else f"exit code {result.exit_code}"
    yield (f'</pre><p id="exit" role="status">Finished: {state} '
           f'({result.duration_ms} ms).</p><pre hidden>').encode()


@router.post("/sandboxes/{sandbox_id}/processes")
async def process_start(sandbox_id: str, con: Page,
                        command: Annotated[str, Form(max_length=100_000)] = "") -> Response:
    """A command left running (a dev server): its ports appear with their preview URLs."""
    con.need("sandbox:exec")
    body = parse(ProcessCreate, command=command)
    sandbox = await con.run(runnable_sandbox, sandbox_id)
    info = await con.call(con.ctx.env.driver.start_process, sandbox.id, body.command,
                          cwd=body.directory, env=dict(sandbox.env), timeout=body.seconds)
    await con.audit("sandbox_process.create", "sandbox_process", info.id, 303)
    return redirect(f"/sandboxes/{sandbox_id}#processes")


@router.get("/sandboxes/{sandbox_id}/processes/{process_id}")
async def process_logs(sandbox_id: str, process_id: str, con: Page) -> HTMLResponse:
    con.need("sandbox:exec")
    sandbox = await con.run(runnable_sandbox, sandbox_id, states=INSPECTABLE)
    driver = con.ctx.env.driver
    info = ProcessPublic.of(await con.call(driver.get_process, sandbox.id, process_id))
    chunk = OutputPublic.of(await con.call(driver.read_output, sandbox.id, process_id,
                                           tail=LOG_TAIL))
    return con.page("process.html", sandbox_id=sandbox_id, process=info, log=chunk)


@router.post("/sandboxes/{sandbox_id}/{action}")
async def sandbox_action(sandbox_id: str, action: str, con: Page) -> Response:
    from hostplane import errors
    from hostplane.resources import sandbox_lifecycle

    steps = {"stop": sandbox_lifecycle.stop_sandbox, "start": sandbox_lifecycle.start_sandbox,
             "destroy": sandboxes.destroy_sandbox}
    if action not in steps:
        raise errors.NotFound(f"No sandbox action {action!r}.", fix="Use stop, start or destroy.")
    con.need("sandbox:write")
    await con.run(steps[action], sandbox_id, con.ctx.env)
    await con.audit(f"sandbox.{'delete' if action == 'destroy' else action}", "sandbox",
                    sandbox_id, 303)
    return redirect(f"/sandboxes/{sandbox_id}")
