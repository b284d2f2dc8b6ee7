"""Ownership resolution: every resource create finds or creates its workspace and project here.

Selectors, any of which may be given:
  workspace: workspace_id | workspace_slug | external_workspace_id (+ workspace_name to name a new one)
  project:   project_id | project_slug | external_project_id (+ project_name to name a new one)
Selectors that name different existing objects are refused (422 SELECTOR_CONFLICT). A selector that
names nothing yet creates the workspace or project. No selector at all means the organization's
default workspace and its default project. Unique constraints decide races: the loser re-reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from sqlalchemy import or_

from hostplane import errors
from hostplane.db.helpers import apply_or_raise, try_insert
from hostplane.db.scope import Scope
from hostplane.tenancy import slugs
from hostplane.tenancy.models import Project, Workspace
from hostplane.tenancy.organizations import require_setup_of
from hostplane.tenancy.projects import get_project, new_project
from hostplane.tenancy.workspaces import (
    default_workspace,
    ensure_default_project,
    get_workspace,
    insert_workspace,
)

_ATTEMPTS = 8


@dataclass(frozen=True)
class Selectors:
    workspace_id: str | None = None
    workspace_slug: str | None = None
    workspace_name: str | None = None
    external_workspace_id: str | None = None
    project_id: str | None = None
    project_slug: str | None = None
    project_name: str | None = None
    external_project_id: str | None = None
    external_user_id: str | None = None

    @classmethod
    def pick(cls, data: object) -> Selectors:
        """The selector fields of any request model or mapping."""
        get = data.get if isinstance(data, dict) else lambda k: getattr(data, k, None)
        return cls(**{f.name: get(f.name) or None for f in fields(cls)})


@dataclass(frozen=True)
class Ownership:
    workspace: Workspace
    project: Project
    external_user_id: str | None
    created_workspace: bool
    created_project: bool


class _Raced(Exception):
    """Another request inserted the same unique value first; resolve again."""


def resolve_ownership(scope: Scope, sel: Selectors) -> Ownership:
    require_setup_of(scope)
    for name in ("workspace_slug", "project_slug"):
        value = getattr(sel, name)
        if value is not None:
            slugs.label_slug(value, field=name)
    for _ in range(_ATTEMPTS):
        try:
            # Each project selector is looked up once: it names the workspace too.
            by_id = get_project(scope, sel.project_id) if sel.project_id else None
            by_external = (
                scope.find(Project, external_project_id=sel.external_project_id)
                if sel.external_project_id
                else None
            )
            workspace, created_ws = _workspace(scope, sel, by_id, by_external)
            project, created_project = _project(scope, sel, workspace, by_id, by_external)
            return Ownership(workspace, project, sel.external_user_id, created_ws, created_project)
        except _Raced:
            continue
    raise errors.Conflict("Ownership is being resolved concurrently; retry.", code="RETRY")


def _one(found: dict[str, Workspace | Project | str | None], what: str,
         load: Callable[[str], Workspace | Project]) -> Workspace | Project | None:
    """The single object the given selectors agree on, or SELECTOR_CONFLICT naming them. A hit
    may be just an id (a workspace known from its project): it is loaded only if no selector
    found the object itself."""
    hits = {k: v for k, v in found.items() if v is not None}
    ids = {v if isinstance(v, str) else v.id for v in hits.values()}
    if len(ids) > 1:
        names = ", ".join(f"{k} → {v if isinstance(v, str) else v.id}" for k, v in hits.items())
        raise errors.Invalid(
            f"The {what} selectors name different {what}s: {names}.",
            code="SELECTOR_CONFLICT",
            field=next(iter(hits)),
            rule=f"all {what} selectors in one request must name the same {what}",
            fix=f"Send one {what} selector, or ones that agree.",
        )
    if not hits:
        return None
    loaded = next((v for v in hits.values() if not isinstance(v, str)), None)
    return loaded if loaded is not None else load(ids.pop())


def _workspace(
    scope: Scope, sel: Selectors, by_project: Project | None, by_ext_project: Project | None
) -> tuple[Workspace, bool]:
    slug = sel.workspace_slug or (
        slugs.normalize(sel.workspace_name)
        if sel.workspace_name and not (sel.workspace_id or sel.external_workspace_id)
        else None
    )
    # One query for the workspace selectors, then each is matched against what it returned.
    wanted = {"id": sel.workspace_id, "slug": slug,
              "external_workspace_id": sel.external_workspace_id}
    conditions = [getattr(Workspace, col) == value for col, value in wanted.items() if value]
    rows = list(scope.session.scalars(scope.select(Workspace).where(or_(*conditions)))
                ) if conditions else []

    def match(column: str) -> Workspace | None:
        if not wanted[column]:
            return None
        return next((w for w in rows if getattr(w, column) == wanted[column]), None)

    if sel.workspace_id and match("id") is None:
        get_workspace(scope, sel.workspace_id)  # raises WORKSPACE_NOT_FOUND
    found = _one(
        {
            "workspace_id": match("id"),
            "workspace_slug": match("slug"),
            "external_workspace_id": match("external_workspace_id"),
            "project_id": by_project.workspace_id if by_project else None,
            "external_project_id": by_ext_project.workspace_id if by_ext_project else None,
        },
        "workspace",
        lambda workspace_id: get_workspace(scope, workspace_id),
    )
    if found is not None:
        assert isinstance(found, Workspace)
        _agree(found, "slug", sel.workspace_slug, "workspace_slug")
        _adopt(scope, found, "external_workspace_id", sel.external_workspace_id)
        return found, False
    if not (slug or sel.external_workspace_id):
        return default_workspace(scope), False
    name = sel.workspace_name or sel.workspace_slug or sel.external_workspace_id or "Workspace"
    workspace = insert_workspace(
        scope,
        name=name.strip()[:200] or "Workspace",
        slug=slug,
        external_workspace_id=sel.external_workspace_id,
        external_user_id=sel.external_user_id,
    )
    if workspace is None:
        raise _Raced
    return workspace, True


def _project(
    scope: Scope, sel: Selectors, workspace: Workspace, by_id: Project | None,
    by_external: Project | None,
) -> tuple[Project, bool]:
    slug = sel.project_slug or (
        slugs.normalize(sel.project_name)
        if sel.project_name and not (sel.project_id or sel.external_project_id)
        else None
    )
    found = _one(
        {
            "project_id": by_id,
            "project_slug": (
                scope.find(Project, workspace_id=workspace.id, slug=slug) if slug else None
            ),
            "external_project_id": by_external,
        },
        "project",
        lambda project_id: get_project(scope, project_id),
    )
    if found is not None:
        assert isinstance(found, Project)
        _agree(found, "slug", sel.project_slug, "project_slug")
        _adopt(scope, found, "external_project_id", sel.external_project_id)
        return found, False
    if not (slug or sel.external_project_id):
        return ensure_default_project(scope, workspace), False
    name = sel.project_name or sel.project_slug or sel.external_project_id or "Project"
    project = new_project(
        scope,
        workspace,
        name=name.strip()[:200] or "Project",
        slug=slug,
        external_project_id=sel.external_project_id,
        external_user_id=sel.external_user_id,
    )
    if not try_insert(scope.session, project):
        raise _Raced
    return project, True


def _agree(obj: Workspace | Project, attr: str, wanted: str | None, field: str) -> None:
    if wanted is not None and getattr(obj, attr) != wanted:
        kind = type(obj).__name__.lower()
        raise errors.Invalid(
            f"The {kind} {obj.id!r} these selectors name has {attr} {getattr(obj, attr)!r}, "
            f"not {wanted!r}.",
            code="SELECTOR_CONFLICT",
            field=field,
            rule=f"all {kind} selectors in one request must name the same {kind}",
            fix=f"Drop {field}, or send the {kind}'s real {attr}.",
        )


def _adopt(scope: Scope, obj: Workspace | Project, attr: str, value: str | None) -> None:
    """Record an external id on an object that has none yet; refuse one that has another."""
    if value is None or getattr(obj, attr) == value:
        return
    if getattr(obj, attr) is not None:
        _agree(obj, attr, value, attr)
    apply_or_raise(scope.session, lambda: setattr(obj, attr, value), _Raced())
