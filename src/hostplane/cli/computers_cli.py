"""`hostplane computers …`: desktop computers and their desktop URLs."""

from __future__ import annotations

from typing import Annotated

import typer

from hostplane.cli._api import JsonFlag, api_command, client, console, emit_json, fields, table
from hostplane.cli._options import (
    ExternalProject,
    ExternalUser,
    ExternalWs,
    ProjectOpt,
    WorkspaceOpt,
    owner,
)

computers = typer.Typer(help="Computers: desktops in the browser.", no_args_is_help=True)
ComputerId = Annotated[str, typer.Argument(help="The computer's id.")]
FIELDS = ("id", "name", "slug", "status", "size", "desktop_url", "workspace_id", "project_id",
          "created_at")


@computers.command("create")
@api_command
def computers_create(
    name: Annotated[str, typer.Argument(help="A name; the slug in its URL derives from it.")],
    size: Annotated[str | None, typer.Option("--size", help="xs, small, medium, large or "
                                                            "xl.")] = None,
    workspace_id: WorkspaceOpt = None, project_id: ProjectOpt = None,
    external_workspace_id: ExternalWs = None, external_project_id: ExternalProject = None,
    external_user_id: ExternalUser = None, as_json: JsonFlag = False,
) -> None:
    """Create a desktop computer; prints its desktop URL."""
    with client() as hp:
        found = hp.computers.create(name, **owner(
            workspace_id, project_id, external_workspace_id, external_project_id,
            external_user_id=external_user_id, size=size))
    emit_json(found) if as_json else console.print(
        f"computer {found.id} ({found.status})  desktop: {found.desktop_url}", highlight=False)


@computers.command("list")
@api_command
def computers_list(workspace_id: WorkspaceOpt = None, project_id: ProjectOpt = None,
                   external_workspace_id: ExternalWs = None,
                   external_project_id: ExternalProject = None,
                   as_json: JsonFlag = False) -> None:
    """List computers."""
    with client() as hp:
        found = list(hp.computers.iter(**owner(workspace_id, project_id, external_workspace_id,
                                               external_project_id)))
    emit_json(found) if as_json else table(found, ("id", "name", "status", "desktop_url"))


@computers.command("show")
@api_command
def computers_show(computer_id: ComputerId, as_json: JsonFlag = False) -> None:
    """One computer, with its desktop URL."""
    with client() as hp:
        found = hp.computers.get(computer_id)
    emit_json(found) if as_json else fields(found, FIELDS)


@computers.command("rename")
@api_command
def computers_rename(computer_id: ComputerId,
                 name: Annotated[str, typer.Argument(help="The new name.")],
                 as_json: JsonFlag = False) -> None:
    """Give a computer a new name (its id and URLs stay)."""
    with client() as hp:
        found = hp.computers.update(computer_id, name=name)
    emit_json(found) if as_json else console.print(f"computer {found.id} is now {found.name}",
                                                   highlight=False)


@computers.command("delete")
@api_command
def computers_delete(computer_id: ComputerId, as_json: JsonFlag = False) -> None:
    """Destroy a computer."""
    with client() as hp:
        result = hp.computers.delete(computer_id)
    emit_json(result) if as_json else console.print(f"destroyed computer {computer_id}",
                                                    highlight=False)
