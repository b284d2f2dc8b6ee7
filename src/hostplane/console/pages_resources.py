"""Workspaces and projects (search, create, rename), and per project its sandboxes, deployments,
databases and computers with their state and every URL layer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, Response

from hostplane.console.web import ConsoleRoute, Page, parse, redirect
from hostplane.resources import computers, databases, deployments, sandboxes, versions
from hostplane.resources.common import ResourceFilters
from hostplane.resources.computer_schemas import ComputerPublic
from hostplane.resources.database_schemas import DatabasePublic
from hostplane.resources.deployment_schemas import DeploymentPublic
from hostplane.resources.sandbox_schemas import SandboxCreate, SandboxPublic
from hostplane.resources.version_schemas import VersionPublic
from hostplane.tenancy import projects, workspaces
from hostplane.tenancy.schemas import (
    ProjectCreate,
    ProjectPublic,
    ProjectUpdate,
    WorkspaceCreate,
    WorkspacePublic,
    WorkspaceUpdate,
)

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
Text = Annotated[str, Form(max_length=2000)]
SEARCH_LIMIT = 200  # workspaces searched per page: a console search, not a report


def urls_of(public: Any) -> list[tuple[str, str]]:
    """Every URL a resource answers (its public_url and each layer), as (label, url)."""
    found: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}{key}.", inner)
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            label = prefix.rstrip(".")
            if label.endswith("url") or label.startswith("urls.") or "url" in label:
                if value not in (url for _, url in found):  # one row per address
                    found.append((label, value))

    walk("", public.model_dump(mode="json"))
    return found


@router.get("/workspaces")
async def workspace_list(con: Page, q: Annotated[str, Query(max_length=200)] = ""
                         ) -> HTMLResponse:
    con.need("workspace:read")
    page = await con.run(workspaces.list_workspaces, limit=SEARCH_LIMIT)
    found = [WorkspacePublic.of(w) for w in page.items]
    wanted = q.strip().lower()
    if wanted:
        found = [w for w in found if wanted in " ".join(
            filter(None, (w.id, w.name, w.slug, w.external_workspace_id,
                          w.external_user_id))).lower()]
    return con.page("workspaces.html", workspaces=found, q=q, total=page.total)


@router.post("/workspaces")
async def workspace_create(con: Page, name: Text = "", external_workspace_id: Text = "",
                           external_user_id: Text = "") -> Response:
    con.need("workspace:write")
    body = parse(WorkspaceCreate, name=name, external_workspace_id=external_workspace_id,
                 external_user_id=external_user_id)
    workspace, _reused = await con.run(workspaces.create_workspace, body)
    await con.audit("workspace.create", "workspace", workspace.id, 303)
    return redirect(f"/workspaces/{workspace.id}")


@router.get("/workspaces/{workspace_id}")
async def workspace_page(workspace_id: str, con: Page) -> HTMLResponse:
    con.need("workspace:read")
    workspace = WorkspacePublic.of(await con.run(workspaces.get_workspace, workspace_id))
    found = await con.run(projects.list_workspace_projects, workspace_id, limit=SEARCH_LIMIT)
    return con.page("workspace.html", workspace=workspace,
                    projects=[ProjectPublic.of(p) for p in found.items])


@router.post("/workspaces/{workspace_id}/rename")
async def workspace_rename(workspace_id: str, con: Page, name: Text = "") -> Response:
    con.need("workspace:write")
    body = parse(WorkspaceUpdate, name=name or None)
    await con.run(workspaces.update_workspace, workspace_id, body)
    await con.audit("workspace.update", "workspace", workspace_id, 303)
    return redirect(f"/workspaces/{workspace_id}")


@router.post("/workspaces/{workspace_id}/projects")
async def project_create(workspace_id: str, con: Page, name: Text = "",
                         external_project_id: Text = "") -> Response:
    con.need("project:write")
    body = parse(ProjectCreate, name=name, workspace_id=workspace_id,
                 external_project_id=external_project_id)
    project, _reused = await con.run(projects.create_project, body)
    await con.audit("project.create", "project", project.id, 303)
    return redirect(f"/projects/{project.id}")


def _project_resources(scope: Any, project_id: str, env: Any) -> dict[str, Any]:
    where = ResourceFilters(project_id=project_id)
    return {
        "sandboxes": [SandboxPublic.of(v) for v in sandboxes.list_sandboxes(
            scope, where, env, limit=100, cursor=None, offset=0).items],
        "deployments": [DeploymentPublic.of(v) for v in deployments.list_deployments(
            scope, where, env, limit=100, cursor=None, offset=0).items],
        "databases": [DatabasePublic.of(d) for d in databases.list_databases(
            scope, where, limit=100, cursor=None, offset=0).items],
        "computers": [ComputerPublic.of(v) for v in computers.list_computers(
            scope, where, env, limit=100, cursor=None, offset=0).items],
    }


@router.get("/projects/{project_id}")
async def project_page(project_id: str, con: Page) -> HTMLResponse:
    con.need("project:read")
    project = ProjectPublic.of(await con.run(projects.get_project, project_id))
    held = await con.run(_project_resources, project_id, con.ctx.env)
    return con.page("project.html", project=project, urls_of=urls_of, **held)


@router.post("/projects/{project_id}/rename")
async def project_rename(project_id: str, con: Page, name: Text = "") -> Response:
    con.need("project:write")
    await con.run(projects.update_project, project_id, parse(ProjectUpdate, name=name or None))
    await con.audit("project.update", "project", project_id, 303)
    return redirect(f"/projects/{project_id}")


@router.post("/projects/{project_id}/sandboxes")
async def sandbox_create(project_id: str, con: Page, name: Text = "") -> Response:
    con.need("sandbox:write")
    body = parse(SandboxCreate, name=name, project_id=project_id)
    view = await con.run(sandboxes.create_sandbox, body, con.ctx.env)
    await con.audit("sandbox.create", "sandbox", view.sandbox.id, 303)
    return redirect(f"/sandboxes/{view.sandbox.id}")


@router.get("/deployments/{deployment_id}")
async def deployment_page(deployment_id: str, con: Page) -> HTMLResponse:
    con.need("deployment:read")
    view = await con.run(deployments.get_deployment, deployment_id, con.ctx.env)
    found = await con.run(versions.list_versions, deployment_id)
    deployment = DeploymentPublic.of(view)
    return con.page("deployment.html", deployment=deployment, urls=urls_of(deployment),
                    versions=[VersionPublic.of(v) for v in found])


@router.post("/deployments/{deployment_id}/versions/{version_id}/promote")
async def version_promote(deployment_id: str, version_id: str, con: Page) -> Response:
    con.need("deployment:write")
    await con.run(versions.promote, deployment_id, version_id, con.ctx.env)
    await con.audit("deployment_version.promote", "deployment_version", version_id, 303)
    return redirect(f"/deployments/{deployment_id}")


@router.post("/deployments/{deployment_id}/rollback")
async def deployment_rollback(deployment_id: str, con: Page) -> Response:
    con.need("deployment:write")
    await con.run(versions.rollback, deployment_id, None, con.ctx.env)
    await con.audit("deployment.rollback", "deployment", deployment_id, 303)
    return redirect(f"/deployments/{deployment_id}")
