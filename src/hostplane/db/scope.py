"""Tenant scope: a repository bound to one organization, and the session guard behind it.

Scope adds `tenant_id = :tenant` to every query it builds. The guard is the second wall, for code
that goes around Scope: a session whose `info["tenant_id"]` is set refuses to load or flush a
tenant-owned row of any other organization. (Checking each loaded row costs a comparison; adding
criteria to every statement, the other way to do it, cost a third of a simple request.)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, event, select
from sqlalchemy.orm import Session, sessionmaker

from hostplane import errors

T = TypeVar("T")


class CrossTenantAccess(RuntimeError):
    """A scoped session met a row of another organization: a bug, never a user error."""


def _on_load(obj: Any, context: Any) -> None:
    from hostplane.db.base import TenantOwned

    tenant_id = context.session.info.get("tenant_id") if context.session else None
    if tenant_id is not None and isinstance(obj, TenantOwned) and obj.tenant_id != tenant_id:
        raise CrossTenantAccess(f"loaded a {type(obj).__name__} of another organization")


def install_tenant_guard(factory: sessionmaker[Session]) -> None:
    from hostplane.db.base import Base, TenantOwned

    if not event.contains(Base, "load", _on_load):
        event.listen(Base, "load", _on_load, propagate=True)

    @event.listens_for(factory, "before_flush")
    def _check(session: Session, _context: Any, _instances: Any) -> None:
        tenant_id = session.info.get("tenant_id")
        if tenant_id is None:
            return
        for obj in list(session.new) + list(session.dirty) + list(session.deleted):
            if isinstance(obj, TenantOwned):
                if obj.tenant_id is None:
                    obj.tenant_id = tenant_id
                elif obj.tenant_id != tenant_id:
                    raise CrossTenantAccess("refusing to write a row of another organization")


@dataclass(frozen=True)
class Limit:
    """A narrower view inside the organization (a browser token's): one workspace, perhaps one
    project, perhaps listed sandboxes and preview ports. Rows outside it look like rows that don't
    exist (404), exactly as another organization's do."""

    workspace_id: str
    project_id: str | None = None
    sandbox_ids: tuple[str, ...] | None = None
    ports: tuple[int, ...] | None = None
    external_user_id: str | None = None  # what the token's resources are attributed to

    def filters(self, model: Any) -> list[Any]:
        table = getattr(model, "__tablename__", "")
        if table == "workspaces":
            return [model.id == self.workspace_id]
        found = []
        if table == "projects":
            found.append(model.workspace_id == self.workspace_id)
            if self.project_id is not None:
                found.append(model.id == self.project_id)
            return found
        if self.project_id is not None and hasattr(model, "project_id"):
            found.append(model.project_id == self.project_id)
        elif hasattr(model, "workspace_id"):
            found.append(model.workspace_id == self.workspace_id)
        if table == "sandboxes" and self.sandbox_ids is not None:
            found.append(model.id.in_(self.sandbox_ids))
        if table == "sandbox_previews" and self.sandbox_ids is not None:
            found.append(model.sandbox_id.in_(self.sandbox_ids))
        if table == "sandbox_previews" and self.ports is not None:
            found.append(model.port.in_(self.ports))
        return found


@functools.lru_cache(maxsize=512)
def _find_statement(model: Any, columns: tuple[str, ...]) -> Select[Any]:
    """`SELECT model WHERE tenant_id = :w_tenant_id AND col = :w_col … LIMIT 1`; the tenant
    criterion is in every one of them, like Scope.select's."""
    criteria = [getattr(model, c) == bindparam(f"w_{c}") for c in ("tenant_id", *columns)]
    return select(model).where(*criteria).limit(1)


class Scope:
    """A session bound to one organization (and perhaps a Limit inside it); every read and write
    it does stays inside it."""

    def __init__(self, session: Session, tenant_id: str, limit: Limit | None = None, *,
                 shared: Any = None, set_up: bool = False) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.limit = limit
        # A reader's process-wide cache of organization-level facts (the edge's RouteCache:
        # forgotten whenever a routed row changes, in this process at commit and in others by
        # NOTIFY). Writers never get one: they must see their own transaction's changes.
        self.shared = shared
        self.set_up = set_up  # the organization is known to have finished setup (permanent)
        self._tenant: Any = None
        session.info["tenant_id"] = tenant_id

    def select(self, model: type[T]) -> Select[tuple[T]]:
        stmt = select(model).where(model.tenant_id == self.tenant_id)  # type: ignore[attr-defined]
        if self.limit is not None:
            stmt = stmt.where(*self.limit.filters(model))
        return stmt

    def find(self, model: type[T], **where: Any) -> T | None:
        if self.limit is None and None not in where.values():
            # The hottest read (one row by id or by a unique column): a statement built once
            # per model and columns, the values bound at execution. Building it anew cost 40 %
            # of the query.
            params = {f"w_{k}": v for k, v in where.items()}
            params["w_tenant_id"] = self.tenant_id
            return self.session.scalars(_find_statement(model, tuple(where)), params).first()
        stmt = self.select(model).filter_by(**where).limit(1)
        return self.session.scalars(stmt).first()

    def get(self, model: type[T], object_id: str, *, what: str) -> T:
        """The object with this id in this organization, or NotFound naming what was looked for."""
        obj = self.find(model, id=object_id) if isinstance(object_id, str) else None
        if obj is None:
            raise errors.NotFound(
                f"No {what} with id {object_id!r} in this organization.",
                code=f"{what.upper().replace(' ', '_')}_NOT_FOUND",
                fix=f"List your {errors.plural(what)} to find a valid id.",
            )
        return obj

    def tenant(self) -> Any:
        """This organization's row (loaded once per scope: the session's identity map holds rows
        only while something references them)."""
        from hostplane.tenancy.models import Tenant

        if self._tenant is None:
            self._tenant = self.session.get(Tenant, self.tenant_id)
        if self._tenant is None:  # deleted while the request ran
            raise errors.NotFound("This organization no longer exists.", code="ORG_NOT_FOUND")
        return self._tenant

    def add(self, obj: T) -> T:
        obj.tenant_id = self.tenant_id  # type: ignore[attr-defined]
        self.session.add(obj)
        return obj
