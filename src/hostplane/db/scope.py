"""Tenant scope: a repository bound to one organization, and the session guard behind it.

Scope adds `tenant_id = :tenant` to every query it builds. The guard is the second wall, for code
that goes around Scope: a session whose `info["tenant_id"]` is set refuses to load or flush a
tenant-owned row of any other organization. (Checking each loaded row costs a comparison; adding
criteria to every statement, the other way to do it, cost a third of a simple request.)
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, event, select
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


class Scope:
    """A session bound to one organization; every read and write it does stays inside it."""

    def __init__(self, session: Session, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self._tenant: Any = None
        session.info["tenant_id"] = tenant_id

    def select(self, model: type[T]) -> Select[tuple[T]]:
        return select(model).where(model.tenant_id == self.tenant_id)  # type: ignore[attr-defined]

    def find(self, model: type[T], **where: Any) -> T | None:
        stmt = self.select(model).filter_by(**where).limit(1)
        return self.session.scalars(stmt).first()

    def get(self, model: type[T], object_id: str, *, what: str) -> T:
        """The object with this id in this organization, or NotFound naming what was looked for."""
        obj = self.find(model, id=object_id) if isinstance(object_id, str) else None
        if obj is None:
            raise errors.NotFound(
                f"No {what} with id {object_id!r} in this organization.",
                code=f"{what.upper().replace(' ', '_')}_NOT_FOUND",
                fix=f"List your {what}s to find a valid id.",
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
