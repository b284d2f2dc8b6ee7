"""`hostplane events …`: the event log, listed or followed as it happens."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from hostplane.cli._api import JsonFlag, api_command, client, console, emit_json, table
from hostplane.cli._options import ExternalProject, ExternalWs, ProjectOpt, WorkspaceOpt, owner

events = typer.Typer(help="The event log: what happened to your objects, oldest first.",
                     no_args_is_help=True)
Types = Annotated[str | None, typer.Option(
    "--types", help="Comma-separated type patterns, e.g. 'sandbox.*,domain.verified'.")]
After = Annotated[int | None, typer.Option("--after", help="Only events after this event id.")]
COLUMNS = ("id", "created_at", "type", "object_type", "object_id")
RECONNECT_SECONDS = 1.0


@events.command("list")
@api_command
def events_list(types: Types = None, after: After = None,
                object_type: Annotated[str | None, typer.Option(
                    "--object-type", help="sandbox, domain, deployment, …")] = None,
                object_id: Annotated[str | None, typer.Option(
                    "--object-id", help="One object's id.")] = None,
                workspace_id: WorkspaceOpt = None, project_id: ProjectOpt = None,
                external_workspace_id: ExternalWs = None,
                external_project_id: ExternalProject = None,
                limit: Annotated[int | None, typer.Option(
                    "--limit", min=1, help="Print at most this many (default: all).")] = None,
                as_json: JsonFlag = False) -> None:
    """List events, oldest first (every page, or the first --limit)."""
    filters = owner(workspace_id, project_id, external_workspace_id, external_project_id,
                    types=types, after=after, object_type=object_type, object_id=object_id)
    with client() as hp:
        found = list(itertools.islice(hp.events.iter(**filters), limit))
    emit_json(found) if as_json else table(found, COLUMNS)


@events.command("tail")
@api_command
def events_tail(types: Types = None, after: After = None,
                limit: Annotated[int | None, typer.Option(
                    "--limit", min=1, help="Stop after this many events.")] = None,
                follow: Annotated[bool, typer.Option(
                    "--follow/--no-follow", help="Keep waiting for new events (default), or "
                                                 "stop once those already there are printed.")]
                = True,
                as_json: Annotated[bool, typer.Option(
                    "--json", help="One JSON object per line (JSON Lines).")] = False) -> None:
    """Print events as they happen (from now, or after --after), until ^C. When the server
    restarts, the stream resumes where it stopped (Last-Event-ID)."""
    from hostplane.client import errors

    printed = 0
    cursor = after
    with client() as hp:
        connected = False
        while True:
            try:
                for event in _stream(hp, types, cursor, follow):
                    connected = True
                    cursor = event["id"]
                    _print(event, as_json)
                    printed += 1
                    if limit is not None and printed >= limit:
                        return
            except errors.ConnectionFailed:
                if not connected:
                    raise  # never reached the server: exit 3
            if not follow:
                return
            # The stream ended (the server is stopping or restarting): come back after it.
            time.sleep(RECONNECT_SECONDS)


def _stream(hp: Any, types: str | None, cursor: int | None,
            follow: bool) -> Iterator[dict[str, Any]]:
    """The events of one connection to GET /events/stream."""
    import httpx

    from hostplane.client import errors
    from hostplane.client._core import Call, request_args, result

    transport = hp._transport
    call = Call("GET", "/events/stream",
                params={"types": types, "follow": None if follow else "false"})
    args = request_args(transport.options, call)
    if cursor is not None:
        args["headers"]["Last-Event-ID"] = str(cursor)
    try:
        with transport.http.stream(**args, timeout=httpx.Timeout(30, read=None)) as response:
            if response.status_code >= 400:
                response.read()
                result(call, response)  # raises the API's error
            data: list[str] = []
            for line in response.iter_lines():
                if line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    yield json.loads("\n".join(data))
                    data = []
    except httpx.TransportError as exc:
        raise errors.ConnectionFailed(f"{transport.options.base_url}: {exc}") from exc


def _print(event: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(event, sort_keys=True), flush=True)
    else:
        console.print("  ".join(str(event.get(c) or "") for c in COLUMNS), highlight=False)
