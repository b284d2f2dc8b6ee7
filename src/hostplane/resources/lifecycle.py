"""What deleting or moving a workspace or project means for the resources inside it.

Rows go with the workspace or project (foreign keys cascade); what the engines hold would not:
each live sandbox is destroyed (its processes end, its files go), each live database locked
before the delete commits and dropped (with its login role) once it has, so no old credential
connects afterwards, and the deployments' release files no other version keeps are deleted.
Computers hold nothing outside the database on the local driver (it runs no desktops). A moved
project's resources follow it: their workspace_id and external_workspace_id become the new
workspace's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from hostplane import errors
from hostplane.db.helpers import after_commit
from hostplane.db.scope import Scope
from hostplane.domains.custom_domains import detach_all
from hostplane.resources.common import get_resource
from hostplane.resources.databases import drop_on_commit
from hostplane.resources.env import Env
from hostplane.resources.models import Computer, Database, Deployment, Sandbox
from hostplane.resources.storage import drop_files_on_commit
from hostplane.resources.usage import KINDS
from hostplane.tenancy import projects, workspaces
from hostplane.tenancy.models import Project, Workspace
from hostplane.tenancy.schemas import ProjectUpdate


def delete_workspace(scope: Scope, workspace_id: str, env: Env) -> Workspace:
    workspaces.get_workspace(scope, workspace_id)  # 404 before anything is touched
    _drop_databases(scope, env, Database.workspace_id == workspace_id)
    drop_files_on_commit(scope, env.releases, Deployment.workspace_id == workspace_id)
    _release_sandboxes(scope, env, Sandbox.workspace_id == workspace_id)
    _free_domains(scope, env, Project.workspace_id == workspace_id)
    return workspaces.delete_workspace(scope, workspace_id)


def delete_project(scope: Scope, project_id: str, env: Env) -> Project:
    project = projects.get_project(scope, project_id)
    if not project.is_default:  # the default project refuses deletion below
        _drop_databases(scope, env, Database.project_id == project_id)
        drop_files_on_commit(scope, env.releases, Deployment.project_id == project_id)
        _release_sandboxes(scope, env, Sandbox.project_id == project_id)
        _free_domains(scope, env, Project.id == project_id)
    return projects.delete_project(scope, project_id)


def move_project(scope: Scope, project_id: str, target_workspace_id: str) -> Project:
    project = projects.move_project(scope, project_id, target_workspace_id)
    target = workspaces.get_workspace(scope, project.workspace_id)
    for model in KINDS.values():
        scope.session.execute(
            update(model)
            .where(model.tenant_id == scope.tenant_id, model.project_id == project.id)
            .values(workspace_id=target.id, external_workspace_id=target.external_workspace_id)
        )
    return project


def update_project(scope: Scope, project_id: str, data: ProjectUpdate) -> Project:
    """Change a project; `production_deployment_id` must name one of its live deployments."""
    project = projects.update_project(scope, project_id, data)
    wanted = data.production_deployment_id
    if wanted is not None and wanted != project.production_deployment_id:
        deployment = get_resource(scope, Deployment, wanted, "deployment")
        if deployment.project_id != project.id:
            raise errors.Invalid(
                f"Deployment {wanted!r} belongs to project {deployment.project_id!r}.",
                field="production_deployment_id",
                rule="the production deployment must be one of the project's own",
                fix="Move the deployment into this project first, or pick one of its own.")
        project.production_deployment_id = deployment.id
        scope.session.flush()
    return project


def _free_domains(scope: Scope, env: Env, projects_where: Any) -> None:
    """Exact domains on the projects going away, and on their deployments and computers, become
    tombstones: the rows they point at are about to be deleted."""
    project_ids = select(Project.id).where(Project.tenant_id == scope.tenant_id, projects_where)
    targets = (("project", project_ids),
               ("deployment", select(Deployment.id).where(Deployment.project_id.in_(project_ids))),
               ("computer", select(Computer.id).where(Computer.project_id.in_(project_ids))),
               ("sandbox", select(Sandbox.id).where(Sandbox.project_id.in_(project_ids))))
    for target_type, ids in targets:
        detach_all(scope, target_type, ids, env.now)


def _release_sandboxes(scope: Scope, env: Env, where: Any) -> None:
    stmt = select(Sandbox.id).where(Sandbox.tenant_id == scope.tenant_id, where,
                                    Sandbox.destroyed_at.is_(None))
    for sandbox_id in scope.session.scalars(stmt):
        after_commit(scope.session, lambda sid=sandbox_id: env.driver.destroy_sandbox(sid))


def _drop_databases(scope: Scope, env: Env, where: Any) -> None:
    """As deleting each database does (the rows go with the cascade)."""
    stmt = select(Database.id, Database.engine).where(Database.tenant_id == scope.tenant_id,
                                                      where, Database.destroyed_at.is_(None))
    for database_id, engine in scope.session.execute(stmt).all():
        drop_on_commit(scope, env, database_id, engine)
