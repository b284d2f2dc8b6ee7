"""Workspaces: one per downstream customer, each with a default project that cannot be deleted."""

from __future__ import annotations

import zlib
from typing import Any

from sqlalchemy import text

from hostplane import errors
from hostplane.db.base import new_id
from hostplane.db.helpers import Page, apply_or_raise, next_free_slug, paginate, try_insert
from hostplane.db.scope import Scope
from hostplane.tenancy import slugs
from hostplane.tenancy.models import Project, Workspace
from hostplane.tenancy.organizations import require_setup_of
from hostplane.tenancy.schemas import WorkspaceCreate, WorkspacePublic, WorkspaceUpdate

_ATTEMPTS = 8


def get_workspace(scope: Scope, workspace_id: str) -> Workspace:
    return scope.get(Workspace, workspace_id, what="workspace")


def list_workspaces(
    scope: Scope,
    *,
    limit: int,
    cursor: str | None = None,
    offset: int = 0,
    external_workspace_id: str | None = None,
    external_user_id: str | None = None,
) -> Page[Workspace]:
    stmt = scope.select(Workspace)
    if external_workspace_id is not None:
        stmt = stmt.where(Workspace.external_workspace_id == external_workspace_id)
    if external_user_id is not None:
        stmt = stmt.where(Workspace.external_user_id == external_user_id)
    return paginate(scope.session, stmt, Workspace, limit=limit, cursor=cursor, offset=offset)


def create_workspace(scope: Scope, data: WorkspaceCreate) -> tuple[Workspace, bool]:
    """Create a workspace, or return the one already holding its external id (reused=True)."""
    require_setup_of(scope)
    if data.slug is not None:
        slugs.label_slug(data.slug, field="slug")
    for _ in range(_ATTEMPTS):
        if data.external_workspace_id:
            existing = scope.find(Workspace, external_workspace_id=data.external_workspace_id)
            if existing is not None:
                return existing, True
        if not data.allow_duplicate_name:
            same = _same_name(scope, data.name)
            if same is not None and data.external_workspace_id is not None and (
                same.external_workspace_id == data.external_workspace_id
            ):
                return same, True  # created by a concurrent request with the same external id
            if same is not None:
                raise _name_exists(same)
        workspace = insert_workspace(
            scope,
            name=data.name,
            slug=data.slug,
            description=data.description,
            meta=data.metadata or {},
            external_workspace_id=data.external_workspace_id,
            external_user_id=data.external_user_id,
        )
        if workspace is not None:
            return workspace, False
        if data.slug and scope.find(Workspace, slug=data.slug) is not None:
            raise slugs.slug_taken("workspace", data.slug)
    raise errors.Conflict("The workspace is being created concurrently; retry.", code="RETRY")


def insert_workspace(
    scope: Scope, *, name: str, slug: str | None = None, **fields: Any
) -> Workspace | None:
    """Insert a workspace and its default project in one savepoint; None when a unique constraint
    refused them (someone else won). Without `slug`, a free one derives from the name."""
    workspace = Workspace(
        id=new_id(),
        tenant_id=scope.tenant_id,
        name=name,
        slug=slug
        or next_free_slug(
            scope.session,
            Workspace.slug,
            slugs.normalize(name) or "workspace",
            Workspace.tenant_id == scope.tenant_id,
        ),
        settings={},
        **{"meta": {}, **fields},
    )
    if try_insert(scope.session, workspace, _default_project(scope, workspace.id)):
        return workspace
    return None


def _same_name(scope: Scope, name: str) -> Workspace | None:
    """A workspace whose name equals `name` ignoring case. On PostgreSQL a transaction lock on
    the name comes first, so two creates of one name cannot both find none."""
    key = name.casefold()
    if scope.session.get_bind().dialect.name == "postgresql":
        lock = zlib.crc32(f"workspace-name:{scope.tenant_id}:{key}".encode())
        scope.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock})
    return scope.session.scalars(
        scope.select(Workspace).where(Workspace.name_key == key).limit(1)
    ).first()


def _name_exists(same: Workspace) -> errors.Conflict:
    return errors.Conflict(
        f"A workspace named {same.name!r} already exists.",
        code="WORKSPACE_NAME_EXISTS",
        field="name",
        rule="workspace names are unique in the organization unless allow_duplicate_name",
        fix="Reuse the existing workspace (error.existing), pass external_workspace_id to "
        "reuse by your own id, or send allow_duplicate_name: true.",
        extra={"existing": WorkspacePublic.of(same).model_dump(mode="json")},
    )


def _default_project(scope: Scope, workspace_id: str, slug: str = "default") -> Project:
    return Project(
        tenant_id=scope.tenant_id,
        workspace_id=workspace_id,
        name="Default",
        slug=slug,
        meta={},
        is_default=True,
    )


def ensure_default_project(scope: Scope, workspace: Workspace) -> Project:
    """The workspace's default project, created if it does not exist yet (race-safe)."""
    for _ in range(_ATTEMPTS):
        found = scope.find(Project, workspace_id=workspace.id, is_default=True)
        if found is not None:
            return found
        slug = next_free_slug(
            scope.session, Project.slug, "default", Project.workspace_id == workspace.id
        )
        project = _default_project(scope, workspace.id, slug)
        if try_insert(scope.session, project):
            return project
    raise errors.Conflict("The default project is being created concurrently; retry.", code="RETRY")


def default_workspace(scope: Scope) -> Workspace:
    """The organization's default workspace, for resources created without any selector."""
    for _ in range(_ATTEMPTS):
        found = scope.find(Workspace, is_default=True)
        if found is not None:
            return found
        workspace = insert_workspace(scope, name="Default", is_default=True)
        if workspace is not None:
            return workspace
    raise errors.Conflict("The default workspace is being created concurrently; retry.", code="RETRY")


def update_workspace(scope: Scope, workspace_id: str, data: WorkspaceUpdate) -> Workspace:
    workspace = get_workspace(scope, workspace_id)
    fields = data.model_dump(exclude_unset=True)
    if fields.get("name") is None:
        fields.pop("name", None)  # a name can be changed, not removed
    if fields.get("slug") is None:
        fields.pop("slug", None)
    else:
        slugs.label_slug(fields["slug"], field="slug")
    if "metadata" in fields:
        fields["meta"] = fields.pop("metadata") or {}

    def apply() -> None:
        for key, value in fields.items():
            setattr(workspace, key, value)

    apply_or_raise(scope.session, apply, slugs.slug_taken("workspace", fields.get("slug", workspace.slug)))
    return workspace


def replace_settings(scope: Scope, workspace_id: str, settings: dict[str, Any]) -> Workspace:
    workspace = get_workspace(scope, workspace_id)
    workspace.settings = settings
    scope.session.flush()
    return workspace


def delete_workspace(scope: Scope, workspace_id: str) -> Workspace:
    workspace = get_workspace(scope, workspace_id)
    scope.session.delete(workspace)
    scope.session.flush()
    return workspace
