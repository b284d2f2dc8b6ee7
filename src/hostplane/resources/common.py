"""What every resource type shares: ownership on create, lookups, list filters and random slugs."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, cast, exists, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB

from hostplane import errors
from hostplane.db.helpers import Page, paginate
from hostplane.db.scope import Limit, Scope
from hostplane.resources.models import OwnedResource
from hostplane.tenancy.ownership import Ownership, Selectors, resolve_ownership

R = TypeVar("R", bound=OwnedResource)

_SLUG_ALPHABET = string.ascii_lowercase + string.digits
DESTROYED = "destroyed"
GONE_STATES = frozenset({DESTROYED, "deleted"})  # what destroyed sandboxes/computers, databases say


def random_slug(prefix: str, length: int = 8) -> str:
    """`prefix` + random [a-z0-9]: short, DNS-safe, and (with the unique index) platform-unique.
    36^8 ≈ 2.8e12 values, so a retry on collision is rare and the slug is not guessable."""
    return prefix + "".join(secrets.choice(_SLUG_ALPHABET) for _ in range(length))


def owned(scope: Scope, data: object) -> tuple[Ownership, dict[str, Any]]:
    """Resolve the workspace and project a create names (creating them if needed) and the
    ownership columns of the new row. External ids not sent are taken from the workspace and
    project, so filters and chargeback find the resource either way."""
    sel = Selectors.pick(data)
    if scope.limit is not None:
        ownership = _within_limit(scope, sel, scope.limit)
    else:
        ownership = resolve_ownership(scope, sel)
    columns = {
        "workspace_id": ownership.workspace.id,
        "project_id": ownership.project.id,
        "external_workspace_id": sel.external_workspace_id
        or ownership.workspace.external_workspace_id,
        "external_project_id": sel.external_project_id or ownership.project.external_project_id,
        "external_user_id": sel.external_user_id,
    }
    if scope.limit is not None and scope.limit.external_user_id:
        columns["external_user_id"] = scope.limit.external_user_id  # a token's user, always
    return ownership, columns


def _within_limit(scope: Scope, sel: Selectors, limit: Limit) -> Ownership:
    """A browser token creates only inside its own workspace (and project, if it names one):
    it never creates workspaces or projects, and selectors that name anything else are 404, as
    another organization's are."""
    if sel.external_user_id is not None and sel.external_user_id != limit.external_user_id:
        raise errors.Forbidden("A browser token creates resources for its own user only.",
                               code="FORBIDDEN", field="external_user_id",
                               fix="Leave external_user_id out; the token's user is used.")
    if limit.sandbox_ids is not None or limit.ports is not None:
        raise errors.Forbidden("This browser token is limited to listed sandboxes or ports, so "
                               "it can't create anything.", code="PERMISSION_DENIED",
                               fix="Create it on your backend, or mint a token without "
                                   "sandbox_ids and ports.")
    ownership = resolve_ownership(scope, Selectors(
        workspace_id=limit.workspace_id, project_id=limit.project_id or sel.project_id,
        external_user_id=limit.external_user_id))
    ws, project = ownership.workspace, ownership.project
    wanted = {"workspace_slug": ws.slug, "workspace_name": ws.name,
              "external_workspace_id": ws.external_workspace_id, "project_slug": project.slug,
              "project_name": project.name, "external_project_id": project.external_project_id,
              "workspace_id": ws.id, "project_id": project.id}
    for name, actual in wanted.items():
        given = getattr(sel, name)
        if given is not None and given != actual:
            what = name.split("_")[0] if not name.startswith("external") else name.split("_")[1]
            raise errors.NotFound(f"No {what} {given!r} for this browser token.",
                                  code=f"{what.upper()}_NOT_FOUND", field=name,
                                  fix=f"Use the token's own {what}, or leave {name} out.")
    return ownership


@dataclass(frozen=True)
class ResourceFilters:
    """The list filters every resource accepts (contract §4)."""

    workspace_id: str | None = None
    project_id: str | None = None
    state: str | None = None
    external_workspace_id: str | None = None
    external_project_id: str | None = None
    external_user_id: str | None = None
    name: str | None = None
    tags: tuple[str, ...] = ()  # sandboxes: every one of these tags

    def apply(self, stmt: Select[Any], model: type[OwnedResource], dialect: str) -> Select[Any]:
        for column in ("workspace_id", "project_id", "external_workspace_id",
                       "external_project_id", "external_user_id", "name"):
            value = getattr(self, column)
            if value is not None:
                stmt = stmt.where(getattr(model, column) == value)
        for tag in self.tags:
            stmt = stmt.where(_has_tag(model, tag, dialect))
        if self.state in GONE_STATES:  # asked for explicitly: the destroyed ones
            return stmt.where(model.state == self.state)
        stmt = stmt.where(model.destroyed_at.is_(None))  # otherwise lists show live resources
        return stmt if self.state is None else stmt.where(model.state == self.state)


def list_resources(
    scope: Scope, model: type[R], filters: ResourceFilters, *, limit: int,
    cursor: str | None = None, offset: int = 0,
) -> Page[R]:
    stmt = filters.apply(scope.select(model), model, scope.session.get_bind().dialect.name)
    return paginate(scope.session, stmt, model, limit=limit, cursor=cursor, offset=offset)


def _has_tag(model: Any, tag: str, dialect: str) -> Any:
    """`tag` is one of the row's JSON `tags`: JSONB containment on PostgreSQL, json_each on SQLite
    (in SQL, so counts and pages only ever see matching rows)."""
    if dialect == "postgresql":
        return cast(model.tags, JSONB).contains([tag])
    element = func.json_each(model.tags).table_valued("value")
    return exists(select(literal(1)).select_from(element).where(element.c.value == tag))


def get_resource(scope: Scope, model: type[R], resource_id: str, what: str, *,
                 include_destroyed: bool = False) -> R:
    resource = scope.get(model, resource_id, what=what)
    if resource.destroyed_at is not None and not include_destroyed:
        raise errors.NotFound(
            f"The {what} {resource_id!r} has been deleted.",
            code=f"{what.upper()}_NOT_FOUND",
            fix=f"List your {errors.plural(what)} to find a live one.",
        )
    return resource


def runtime_seconds(resource: OwnedResource, now: Any) -> float:
    """Seconds the resource has been running, up to its destruction or now."""
    if resource.started_at is None:
        return 0.0
    end = resource.destroyed_at or now
    return max(0.0, (end - resource.started_at).total_seconds())


def rename(scope: Scope, resource: OwnedResource, name: str | None,
           metadata: dict[str, Any] | None) -> None:
    """Apply a PATCH of name and/or metadata (absent fields stay as they are)."""
    if name is not None:
        resource.name = name
    if metadata is not None:
        resource.meta = metadata
    scope.session.flush()
