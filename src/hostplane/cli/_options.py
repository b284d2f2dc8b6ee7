"""Options the API commands share, spelled the same in every group: which workspace or project
a create goes to, or a list is narrowed to, by hostplane's ids or by your own."""

from __future__ import annotations

from typing import Annotated, Any

import typer

WorkspaceOpt = Annotated[str | None, typer.Option("--workspace-id", help="Workspace id.")]
ProjectOpt = Annotated[str | None, typer.Option("--project-id", help="Project id.")]
ExternalWs = Annotated[str | None, typer.Option(
    "--external-workspace-id", help="Your id for the customer (a create resolves or creates the "
                                    "workspace).")]
ExternalProject = Annotated[str | None, typer.Option(
    "--external-project-id", help="Your id for the project (a create resolves or creates it).")]
ExternalUser = Annotated[str | None, typer.Option(
    "--external-user-id", help="Your end user, for chargeback.")]
NameOpt = Annotated[str | None, typer.Option("--name", help="A name to show.")]


def owner(workspace_id: str | None, project_id: str | None, external_workspace_id: str | None,
          external_project_id: str | None, **more: Any) -> dict[str, Any]:
    """The selectors that were given, as the API takes them (in a create's body or a list's
    query)."""
    given = {"workspace_id": workspace_id, "project_id": project_id,
             "external_workspace_id": external_workspace_id,
             "external_project_id": external_project_id, **more}
    return {key: value for key, value in given.items() if value is not None}
