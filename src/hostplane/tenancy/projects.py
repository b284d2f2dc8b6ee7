"""Projects: the things a workspace builds. Slugs are unique per workspace."""

from __future__ import annotations

from typing import Any

from hostplane import errors
from hostplane.db.helpers import Page, apply_or_raise, next_free_slug, paginate, try_insert
from hostplane.db.scope import Scope
from hostplane.tenancy import slugs
from hostplane.tenancy.models import Project, Workspace
from hostplane.tenancy.organizations import require_setup_of
from hostplane.tenancy.schemas import ProjectCreate, ProjectUpdate
from hostplane.tenancy.workspaces import get_workspace

_ATTEMPTS = 8


def get_project(scope: Scope, project_id: str) -> Project:
    return scope.get(Project, project_id, what="project")


def list_projects(
    scope: Scope,
    *,
    limit: int,
    cursor: str | None = None,
    offset: int = 0,
    workspace_id: str | None = None,
    external_project_id: str | None = None,
) -> Page[Project]:
    stmt = scope.select(Project)
    if workspace_id is not None:
        stmt = stmt.where(Project.workspace_id == workspace_id)
    if external_project_id is not None:
        stmt = stmt.where(Project.external_project_id == external_project_id)
    return paginate(scope.session, stmt, Project, limit=limit, cursor=cursor, offset=offset)


def list_workspace_projects(
    scope: Scope, workspace_id: str, *, limit: int, cursor: str | None = None, offset: int = 0
) -> Page[Project]:
    get_workspace(scope, workspace_id)  # 404 for a workspace that is not the caller's
    return list_projects(scope, limit=limit, cursor=cursor, offset=offset,
                         workspace_id=workspace_id)


def workspace_for_project_create(
    scope: Scope, workspace_id: str | None, workspace_slug: str | None
) -> Workspace:
    if workspace_id is None and workspace_slug is None:
        raise errors.Invalid(
            "A project belongs to a workspace; none was named.",
            code="WORKSPACE_REQUIRED",
            field="workspace_id",
            rule="workspace_id or workspace_slug is required",
            fix="Send workspace_id (from the workspace create response) or workspace_slug.",
        )
    if workspace_id is not None:
        workspace = get_workspace(scope, workspace_id)
        if workspace_slug is not None and workspace.slug != workspace_slug:
            raise errors.Invalid(
                f"workspace_id {workspace_id!r} has slug {workspace.slug!r}, not {workspace_slug!r}.",
                code="SELECTOR_CONFLICT",
                field="workspace_slug",
                rule="selectors that name the same workspace must agree",
                fix="Send only one of workspace_id and workspace_slug.",
            )
        return workspace
    workspace = scope.find(Workspace, slug=workspace_slug)
    if workspace is None:
        raise errors.NotFound(
            f"No workspace with slug {workspace_slug!r} in this organization.",
            code="WORKSPACE_NOT_FOUND",
            field="workspace_slug",
            fix="Create the workspace first, or list workspaces to find its slug.",
        )
    return workspace


def create_project(scope: Scope, data: ProjectCreate) -> tuple[Project, bool]:
    """Create a project in a workspace, or return the one holding its external id (reused)."""
    require_setup_of(scope)
    if data.slug is not None:
        slugs.label_slug(data.slug, field="slug")
    workspace = workspace_for_project_create(scope, data.workspace_id, data.workspace_slug)
    for _ in range(_ATTEMPTS):
        if data.external_project_id:
            existing = scope.find(Project, external_project_id=data.external_project_id)
            if existing is not None:
                if existing.workspace_id != workspace.id:
                    raise _external_elsewhere(data.external_project_id, existing)
                return existing, True
        project = new_project(
            scope,
            workspace,
            name=data.name,
            slug=data.slug,
            description=data.description,
            metadata=data.metadata,
            external_project_id=data.external_project_id,
            external_user_id=data.external_user_id,
        )
        if try_insert(scope.session, project):
            return project, False
        if data.slug and scope.find(Project, workspace_id=workspace.id, slug=data.slug):
            raise slugs.slug_taken("project", data.slug)
    raise errors.Conflict("The project is being created concurrently; retry.", code="RETRY")


def new_project(
    scope: Scope,
    workspace: Workspace,
    *,
    name: str,
    slug: str | None = None,
    description: str | None = None,
    metadata: dict[str, Any] | None = None,
    external_project_id: str | None = None,
    external_user_id: str | None = None,
) -> Project:
    """An unsaved project with a free slug in `workspace`."""
    return Project(
        tenant_id=scope.tenant_id,
        workspace_id=workspace.id,
        name=name,
        slug=slug
        or next_free_slug(
            scope.session,
            Project.slug,
            slugs.normalize(name) or "project",
            Project.workspace_id == workspace.id,
        ),
        description=description,
        meta=metadata or {},
        external_project_id=external_project_id,
        external_user_id=external_user_id,
        is_default=False,
    )


def _external_elsewhere(external_project_id: str, existing: Project) -> errors.Invalid:
    return errors.Invalid(
        f"external_project_id {external_project_id!r} already belongs to project "
        f"{existing.id!r} in workspace {existing.workspace_id!r}.",
        code="SELECTOR_CONFLICT",
        field="external_project_id",
        rule="an external project id names one project in the organization",
        fix="Use that project's workspace, or a different external_project_id.",
    )


def update_project(scope: Scope, project_id: str, data: ProjectUpdate) -> Project:
    project = get_project(scope, project_id)
    fields = data.model_dump(exclude_unset=True, exclude={"production_deployment_id"})
    for key in ("name", "slug"):
        if fields.get(key) is None:
            fields.pop(key, None)  # can be changed, not removed
    if "slug" in fields:
        slugs.label_slug(fields["slug"], field="slug")
    if "metadata" in fields:
        fields["meta"] = fields.pop("metadata") or {}

    def apply() -> None:
        for key, value in fields.items():
            setattr(project, key, value)

    apply_or_raise(scope.session, apply, slugs.slug_taken("project", fields.get("slug", project.slug)))
    return project


def delete_project(scope: Scope, project_id: str) -> Project:
    project = get_project(scope, project_id)
    if project.is_default:
        raise _default_protected(project, "deleted")
    scope.session.delete(project)
    scope.session.flush()
    return project


def move_project(scope: Scope, project_id: str, target_workspace_id: str) -> Project:
    project = get_project(scope, project_id)
    target = get_workspace(scope, target_workspace_id)
    if project.workspace_id == target.id:
        return project
    if project.is_default:
        raise _default_protected(project, "moved")
    def apply() -> None:
        project.workspace_id = target.id

    apply_or_raise(scope.session, apply, slugs.slug_taken("project", project.slug))
    return project


def _default_protected(project: Project, verb: str) -> errors.Conflict:
    return errors.Conflict(
        f"Project {project.id!r} is its workspace's default project and cannot be {verb}.",
        code="DEFAULT_PROJECT_PROTECTED",
        rule="every workspace keeps its default project",
        fix="Delete or move a non-default project instead, or delete the whole workspace.",
    )
