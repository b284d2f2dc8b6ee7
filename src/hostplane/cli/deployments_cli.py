"""`hostplane deployments …`: published apps and their URLs on every layer."""

from __future__ import annotations

from typing import Annotated

import typer

from hostplane.cli._api import JsonFlag, api_command, client, console, emit_json, table
from hostplane.cli._options import (
    ExternalProject,
    ExternalUser,
    ExternalWs,
    ProjectOpt,
    WorkspaceOpt,
    owner,
)

deployments = typer.Typer(help="Deployments: published apps and their URLs.",
                          no_args_is_help=True)
DeploymentId = Annotated[str, typer.Argument(help="The deployment's id.")]


@deployments.command("create")
@api_command
def deployments_create(name: Annotated[str, typer.Argument(help="A name; the slug in its URLs "
                                                                  "derives from it.")],
                       workspace_id: WorkspaceOpt = None,
                       project_id: ProjectOpt = None,
                       external_workspace_id: ExternalWs = None,
                       external_project_id: ExternalProject = None,
                       external_user_id: ExternalUser = None,
                       as_json: JsonFlag = False) -> None:
    """Create a deployment; its URL is the fallback until a domain is verified."""
    with client() as hp:
        dep = hp.deployments.create(name, **owner(
            workspace_id, project_id, external_workspace_id, external_project_id,
            external_user_id=external_user_id))
    emit_json(dep) if as_json else console.print(f"deployment {dep.id}  {dep.url}",
                                                 highlight=False)


@deployments.command("list")
@api_command
def deployments_list(workspace_id: WorkspaceOpt = None, project_id: ProjectOpt = None,
                     external_workspace_id: ExternalWs = None,
                     external_project_id: ExternalProject = None,
                     as_json: JsonFlag = False) -> None:
    """List deployments and their URLs."""
    with client() as hp:
        found = list(hp.deployments.iter(**owner(workspace_id, project_id,
                                                 external_workspace_id, external_project_id)))
    emit_json(found) if as_json else table(found, ("id", "slug", "state", "url", "url_source"))


@deployments.command("show")
@api_command
def deployments_show(deployment_id: DeploymentId, as_json: JsonFlag = False) -> None:
    """One deployment, with every URL layer (fallback, branded, custom)."""
    with client() as hp:
        dep = hp.deployments.get(deployment_id)
    if as_json:
        emit_json(dep)
        return
    console.print(f"{dep.name} ({dep.slug}): [bold]{dep.url}[/bold] from {dep.url_source}",
                  highlight=False)
    for layer, value in dep.urls.items():
        console.print(f"  {layer}: {value}", highlight=False)


@deployments.command("delete")
@api_command
def deployments_delete(deployment_id: DeploymentId, as_json: JsonFlag = False) -> None:
    """Delete a deployment: its URLs stop answering, and its exact domains are detached."""
    with client() as hp:
        result = hp.deployments.delete(deployment_id)
    emit_json(result) if as_json else console.print(f"deleted deployment {deployment_id}",
                                                    highlight=False)
