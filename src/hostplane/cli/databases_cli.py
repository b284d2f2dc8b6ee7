"""`hostplane databases …`: databases owned by a project, and how to connect to them."""

from __future__ import annotations

from typing import Annotated

import typer

from hostplane.cli._api import JsonFlag, api_command, client, console, emit_json, fields, table
from hostplane.cli._options import (
    ExternalProject,
    ExternalUser,
    ExternalWs,
    NameOpt,
    ProjectOpt,
    WorkspaceOpt,
    owner,
)

databases = typer.Typer(help="Databases: owned by a project, with credentials to connect.",
                        no_args_is_help=True)
DatabaseId = Annotated[str, typer.Argument(help="The database's id.")]
FIELDS = ("id", "name", "engine", "engine_version", "state", "status_reason", "workspace_id",
          "project_id", "created_at")


@databases.command("create")
@api_command
def databases_create(
    name: NameOpt = None,
    engine: Annotated[str | None, typer.Option(
        "--engine", help="postgresql or sqlite; without it, the first one this server offers.")]
    = None,
    workspace_id: WorkspaceOpt = None, project_id: ProjectOpt = None,
    external_workspace_id: ExternalWs = None, external_project_id: ExternalProject = None,
    external_user_id: ExternalUser = None, as_json: JsonFlag = False,
) -> None:
    """Create a database (with no selector: in the organization's default project). Its
    password: hostplane databases credentials ID."""
    with client() as hp:
        found = hp.databases.create(**owner(
            workspace_id, project_id, external_workspace_id, external_project_id,
            external_user_id=external_user_id, name=name, engine=engine))
    emit_json(found) if as_json else console.print(
        f"database {found.id} ({found.engine}, {found.state})", highlight=False)


@databases.command("list")
@api_command
def databases_list(workspace_id: WorkspaceOpt = None, project_id: ProjectOpt = None,
                   external_workspace_id: ExternalWs = None,
                   external_project_id: ExternalProject = None,
                   as_json: JsonFlag = False) -> None:
    """List databases."""
    with client() as hp:
        found = list(hp.databases.iter(**owner(workspace_id, project_id, external_workspace_id,
                                               external_project_id)))
    emit_json(found) if as_json else table(
        found, ("id", "name", "engine", "state", "workspace_id", "project_id"))


@databases.command("show")
@api_command
def databases_show(database_id: DatabaseId, as_json: JsonFlag = False) -> None:
    """One database (without its password)."""
    with client() as hp:
        found = hp.databases.get(database_id)
    emit_json(found) if as_json else fields(found, FIELDS)


@databases.command("credentials")
@api_command
def databases_credentials(database_id: DatabaseId, as_json: JsonFlag = False) -> None:
    """How to connect: prints the connection URL, with its password (keep it private)."""
    with client() as hp:
        found = hp.databases.credentials(database_id)
    emit_json(found) if as_json else console.print(found["url"], highlight=False, soft_wrap=True)


@databases.command("stop")
@api_command
def databases_stop(database_id: DatabaseId, as_json: JsonFlag = False) -> None:
    """Stop a database: no new connections, open ones end; its data stays."""
    with client() as hp:
        found = hp.databases.stop(database_id)
    emit_json(found) if as_json else console.print(f"database {found.id} is {found.state}",
                                                   highlight=False)


@databases.command("start")
@api_command
def databases_start(database_id: DatabaseId, as_json: JsonFlag = False) -> None:
    """Start a stopped database."""
    with client() as hp:
        found = hp.databases.start(database_id)
    emit_json(found) if as_json else console.print(f"database {found.id} is {found.state}",
                                                   highlight=False)


@databases.command("rename")
@api_command
def databases_rename(database_id: DatabaseId,
                 name: Annotated[str, typer.Argument(help="The new name.")],
                 as_json: JsonFlag = False) -> None:
    """Give a database a new name (its id and URLs stay)."""
    with client() as hp:
        found = hp.databases.update(database_id, name=name)
    emit_json(found) if as_json else console.print(f"database {found.id} is now {found.name}",
                                                   highlight=False)


@databases.command("delete")
@api_command
def databases_delete(database_id: DatabaseId, as_json: JsonFlag = False) -> None:
    """Delete a database and its data."""
    with client() as hp:
        result = hp.databases.delete(database_id)
    emit_json(result) if as_json else console.print(f"deleted database {database_id}",
                                                    highlight=False)
