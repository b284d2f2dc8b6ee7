"""`hostplane workspaces …` and `hostplane projects …`: one workspace per downstream customer,
one project per thing it builds."""

from __future__ import annotations

from typing import Annotated

import typer

from hostplane.cli._api import JsonFlag, api_command, client, console, emit_json, fields, table
from hostplane.cli._options import ExternalProject, ExternalWs, WorkspaceOpt, owner

workspaces = typer.Typer(help="Workspaces: one per downstream customer.", no_args_is_help=True)
projects = typer.Typer(help="Projects: one per app, site or workflow.", no_args_is_help=True)
WorkspaceId = Annotated[str, typer.Argument(help="The workspace's id.")]
ProjectId = Annotated[str, typer.Argument(help="The project's id.")]
Name = Annotated[str, typer.Argument(help="A name people read; the slug derives from it.")]
WORKSPACE_FIELDS = ("id", "name", "slug", "external_workspace_id", "is_default", "created_at")
PROJECT_FIELDS = ("id", "workspace_id", "name", "slug", "external_project_id", "is_default",
                  "created_at")


@workspaces.command("create")
@api_command
def workspaces_create(name: Name, external_workspace_id: ExternalWs = None,
                      as_json: JsonFlag = False) -> None:
    """Create a workspace (or reuse the one with this external id)."""
    with client() as hp:
        ws = hp.workspaces.create(name, external_workspace_id=external_workspace_id)
    emit_json(ws) if as_json else console.print(
        f"{'reused' if ws.reused else 'created'} workspace {ws.id} ({ws.slug})", highlight=False)


@workspaces.command("list")
@api_command
def workspaces_list(external_workspace_id: ExternalWs = None, as_json: JsonFlag = False) -> None:
    """List the workspaces (with --external-workspace-id, the one with your id)."""
    with client() as hp:
        found = list(hp.workspaces.iter(**owner(None, None, external_workspace_id, None)))
    emit_json(found) if as_json else table(
        found, ("id", "name", "slug", "external_workspace_id", "is_default"))


@workspaces.command("show")
@api_command
def workspaces_show(workspace_id: WorkspaceId, as_json: JsonFlag = False) -> None:
    """One workspace."""
    with client() as hp:
        ws = hp.workspaces.get(workspace_id)
    emit_json(ws) if as_json else fields(ws, WORKSPACE_FIELDS)


@workspaces.command("delete")
@api_command
def workspaces_delete(workspace_id: WorkspaceId, as_json: JsonFlag = False) -> None:
    """Delete a workspace with its projects and resources."""
    with client() as hp:
        result = hp.workspaces.delete(workspace_id)
    emit_json(result) if as_json else console.print(f"deleted workspace {workspace_id}",
                                                    highlight=False)


@projects.command("create")
@api_command
def projects_create(name: Name, workspace_id: WorkspaceOpt = None,
                    external_project_id: ExternalProject = None,
                    as_json: JsonFlag = False) -> None:
    """Create a project in a workspace (without --workspace-id, in the default workspace)."""
    with client() as hp:
        project = hp.projects.create(workspace_id, name, external_project_id=external_project_id)
    emit_json(project) if as_json else console.print(
        f"created project {project.id} ({project.slug})", highlight=False)


@projects.command("list")
@api_command
def projects_list(workspace_id: WorkspaceOpt = None, external_project_id: ExternalProject = None,
                  as_json: JsonFlag = False) -> None:
    """List projects (of one workspace, with --workspace-id)."""
    with client() as hp:
        found = list(hp.projects.iter(**owner(workspace_id, None, None, external_project_id)))
    emit_json(found) if as_json else table(
        found, ("id", "workspace_id", "name", "slug", "external_project_id"))


@projects.command("show")
@api_command
def projects_show(project_id: ProjectId, as_json: JsonFlag = False) -> None:
    """One project."""
    with client() as hp:
        project = hp.projects.get(project_id)
    emit_json(project) if as_json else fields(project, PROJECT_FIELDS)


@projects.command("delete")
@api_command
def projects_delete(project_id: ProjectId, as_json: JsonFlag = False) -> None:
    """Delete a project with its resources (a workspace's default project stays)."""
    with client() as hp:
        result = hp.projects.delete(project_id)
    emit_json(result) if as_json else console.print(f"deleted project {project_id}",
                                                    highlight=False)
