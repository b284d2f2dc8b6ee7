"""`hostplane sandboxes …`: isolated places to run code, their commands, background processes,
ports and lifecycle."""

from __future__ import annotations

import shlex
import time
from typing import Annotated, Any

import typer

from hostplane.cli._api import (
    JsonFlag,
    api_command,
    client,
    console,
    emit_json,
    table,
    usage_error,
)
from hostplane.cli._options import (
    ExternalProject,
    ExternalUser,
    ExternalWs,
    NameOpt,
    ProjectOpt,
    WorkspaceOpt,
    owner,
)

sandboxes = typer.Typer(help="Sandboxes: isolated places to run code.", no_args_is_help=True)
SandboxId = Annotated[str, typer.Argument(help="The sandbox's id.")]
ProcessId = Annotated[str, typer.Argument(help="The process id that spawn printed.")]


@sandboxes.command("create")
@api_command
def sandboxes_create(workspace_id: WorkspaceOpt = None, project_id: ProjectOpt = None,
                     external_workspace_id: ExternalWs = None,
                     external_project_id: ExternalProject = None,
                     external_user_id: ExternalUser = None, name: NameOpt = None,
                     as_json: JsonFlag = False) -> None:
    """Create a sandbox (with no selector: in the organization's default project)."""
    with client() as hp:
        sandbox = hp.sandboxes.create(**owner(
            workspace_id, project_id, external_workspace_id, external_project_id,
            external_user_id=external_user_id, name=name))
    emit_json(sandbox) if as_json else console.print(
        f"sandbox {sandbox.id} ({sandbox.state})  preview: {sandbox.preview_url}")


@sandboxes.command("list")
@api_command
def sandboxes_list(workspace_id: WorkspaceOpt = None, project_id: ProjectOpt = None,
                   external_workspace_id: ExternalWs = None,
                   external_project_id: ExternalProject = None,
                   as_json: JsonFlag = False) -> None:
    """List sandboxes."""
    with client() as hp:
        found = list(hp.sandboxes.iter(**owner(workspace_id, project_id, external_workspace_id,
                                               external_project_id)))
    emit_json(found) if as_json else table(
        found, ("id", "slug", "state", "workspace_id", "project_id", "preview_url"))


@sandboxes.command("exec")
@api_command
def sandboxes_exec(sandbox_id: SandboxId,
                   command: Annotated[list[str], typer.Argument(
                       help="After --: words (quoted for you), or one quoted shell line.")],
                   timeout: Annotated[int | None, typer.Option(help="Seconds.")] = None,
                   as_json: JsonFlag = False) -> None:
    """Run a command in a sandbox. Several words are one command, each word quoted:
    `hostplane sandboxes exec ID -- python3 -c 'print(1)'`. One argument is a shell line:
    `hostplane sandboxes exec ID -- 'ls | wc -l'`."""
    with client() as hp:
        # One argument is a shell command line; several are words, quoted as such.
        line = command[0] if len(command) == 1 else shlex.join(command)
        result = hp.sandboxes.exec(sandbox_id, line, timeout=timeout)
    if as_json:
        emit_json(result)
    else:
        print(result.stdout, end="")
        if result.stderr:
            typer.echo(result.stderr, err=True, nl=False)
        if result.timed_out:
            typer.echo(f"hostplane: the command timed out (exit code {result.exit_code})",
                       err=True)
    if result.exit_code:
        # The command's own exit code, as ssh and docker exec pass it on (1 and 2 also mean a
        # refused request or a failed server for the CLI's own errors, which say so on stderr).
        raise typer.Exit(result.exit_code)


@sandboxes.command("expose")
@api_command
def sandboxes_expose(sandbox_id: SandboxId,
                     port: Annotated[int, typer.Argument(help="The port something in the "
                                                             "sandbox listens on.")],
                     as_json: JsonFlag = False) -> None:
    """Give a port of a sandbox its preview URL."""
    with client() as hp:
        preview = hp.sandboxes.expose(sandbox_id, port)
    emit_json(preview) if as_json else console.print(preview.url, highlight=False)


@sandboxes.command("delete")
@api_command
def sandboxes_delete(sandbox_id: SandboxId, as_json: JsonFlag = False) -> None:
    """Destroy a sandbox."""
    with client() as hp:
        result = hp.sandboxes.delete(sandbox_id)
    emit_json(result) if as_json else console.print(f"destroyed sandbox {sandbox_id}")


def _change(sandbox_id: str, action: str, as_json: bool) -> None:
    with client() as hp:
        sandbox = hp.sandboxes.change(sandbox_id, action)
    emit_json(sandbox) if as_json else _say_state(sandbox)


def _say_state(sandbox: Any) -> None:
    console.print(f"sandbox {sandbox.id} is {sandbox.state}"
                  + (f": {sandbox.status_reason}" if sandbox.status_reason else ""),
                  highlight=False)


@sandboxes.command("stop")
@api_command
def sandboxes_stop(
    sandbox_id: Annotated[str | None, typer.Argument(help="The sandbox's id.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every running or paused sandbox of the "
                                                      "organization.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """End every process of a sandbox, or of all of them (--all); files stay, and start brings
    a sandbox back. To stop every sandbox on this machine, whatever its organization: hostplane
    down."""
    if (sandbox_id is None) == (not every):
        usage_error("Give a sandbox id or --all (one of them).",
                    "hostplane sandboxes stop SANDBOX_ID, or hostplane sandboxes stop --all",
                    as_json)
    if sandbox_id is not None:
        _change(sandbox_id, "stop", as_json)
        return
    with client() as hp:
        stopped = [hp.sandboxes.change(s.id, "stop") for s in list(hp.sandboxes.iter())
                   if s.state in ("running", "paused")]
    if as_json:
        emit_json(stopped)
        return
    for sandbox in stopped:
        _say_state(sandbox)
    console.print(f"{len(stopped)} sandbox{'es' if len(stopped) != 1 else ''} stopped",
                  highlight=False)


@sandboxes.command("start")
@api_command
def sandboxes_start(sandbox_id: SandboxId, as_json: JsonFlag = False) -> None:
    """Start a stopped sandbox again, with its files."""
    _change(sandbox_id, "start", as_json)


@sandboxes.command("pause")
@api_command
def sandboxes_pause(sandbox_id: SandboxId, as_json: JsonFlag = False) -> None:
    """Freeze every process of a sandbox where it is."""
    _change(sandbox_id, "pause", as_json)


@sandboxes.command("resume")
@api_command
def sandboxes_resume(sandbox_id: SandboxId, as_json: JsonFlag = False) -> None:
    """Let a paused sandbox's processes run on."""
    _change(sandbox_id, "resume", as_json)


@sandboxes.command("ports")
@api_command
def sandboxes_ports(sandbox_id: SandboxId, as_json: JsonFlag = False) -> None:
    """The ports something in a sandbox listens on, with their preview URLs."""
    with client() as hp:
        found = hp.sandboxes.ports(sandbox_id)
    emit_json(found) if as_json else table(found.ports, ("port", "protocol", "url"))


@sandboxes.command("spawn")
@api_command
def sandboxes_spawn(sandbox_id: SandboxId,
                    command: Annotated[list[str], typer.Argument(help="The command.")],
                    timeout: Annotated[int | None, typer.Option(help="Seconds it may run.")]
                    = None,
                    as_json: JsonFlag = False) -> None:
    """Start a command in the background (a dev server): `hostplane sandboxes spawn ID --
    npm run dev`. Its output: `hostplane sandboxes logs ID PROCESS_ID`."""
    line = command[0] if len(command) == 1 else shlex.join(command)
    with client() as hp:
        process = hp.sandboxes.start_process(sandbox_id, line, timeout=timeout)
    emit_json(process) if as_json else console.print(f"started process {process.id}")


@sandboxes.command("processes")
@api_command
def sandboxes_processes(sandbox_id: SandboxId, as_json: JsonFlag = False) -> None:
    """A sandbox's background processes, running and ended."""
    with client() as hp:
        found = hp.sandboxes.processes(sandbox_id)
    emit_json(found) if as_json else table(found, ("id", "state", "exit_code", "command"))


@sandboxes.command("logs")
@api_command
def sandboxes_logs(sandbox_id: SandboxId, process_id: ProcessId,
                   follow: Annotated[bool, typer.Option("--follow", "-f",
                                                        help="Keep printing until it ends.")]
                   = False) -> None:
    """Print a background process's output (stdout and stderr together)."""
    offset = 0
    with client() as hp:
        while True:
            chunk = hp.sandboxes.logs(sandbox_id, process_id, offset=offset)
            typer.echo(chunk.output, nl=False)
            offset = chunk.next_offset
            if chunk.done or not follow:
                break
            if not chunk.output:
                time.sleep(0.5)


@sandboxes.command("kill")
@api_command
def sandboxes_kill(sandbox_id: SandboxId, process_id: ProcessId,
                   as_json: JsonFlag = False) -> None:
    """Stop a background process and everything it started."""
    with client() as hp:
        process = hp.sandboxes.stop_process(sandbox_id, process_id)
    emit_json(process) if as_json else console.print(f"process {process.id} is {process.state}")
