"""Every state change becomes an event, structurally, so no service can forget one.

A flush that creates, changes the state of, or deletes an object of the platform (a workspace,
project, sandbox, computer, database, deployment or its versions, a domain's history, a browser
token) queues events on the session; the commit writes them in the same transaction, numbered
while it holds the event lock, so ids grow in commit order and "everything after id N" never
skips a transaction that committed late. Bulk statements that bypass the unit of work call
`emit` themselves.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, inspect, insert, select, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.util import identity_key

from hostplane.events.models import Event

PENDING = "hostplane_events"
# One PostgreSQL transaction lock for all event writers, taken just before the rows are
# numbered and released by the commit: ids are handed out in commit order.
_LOCK = int.from_bytes(hashlib.sha256(b"hostplane-events").digest()[:8], "big", signed=True)

# What a resource entering a state is called.
_STATES = {"running": "started", "stopped": "stopped", "paused": "paused", "error": "failed",
           "failed": "failed", "destroyed": "destroyed"}
# What the end of each kind is called (things that run are destroyed, records deleted).
_ENDED = {"sandbox": "destroyed", "computer": "destroyed", "database": "deleted",
          "deployment": "deleted", "workspace": "deleted", "project": "deleted"}


def emit(session: Session, tenant_id: str, type_: str, object_type: str, object_id: str,
         **fields: Any) -> None:
    """Queue one event for this session's commit (for changes made by bulk statements)."""
    data = fields.pop("data", {}) or {}
    session.info.setdefault(PENDING, []).append(
        {"tenant_id": tenant_id, "type": type_, "object_type": object_type,
         "object_id": object_id, "data": data, **fields})


_INSTALLED: weakref.WeakSet[sessionmaker[Session]] = weakref.WeakSet()


def install(factory: sessionmaker[Session]) -> None:
    """Record the events of changes made through sessions of `factory`. Once per factory, however many containers share a database."""
    if factory in _INSTALLED:
        return
    _INSTALLED.add(factory)
    from hostplane.domains.models import DomainEvent

    @event.listens_for(factory, "after_flush")
    def _flushed(session: Session, _context: Any) -> None:
        found = [*_created(session.new), *_changed(session.dirty), *_deleted(session.deleted)]
        if found:
            session.info.setdefault(PENDING, []).extend(found)

    @event.listens_for(factory, "do_orm_execute")
    def _bulk_history(state: Any) -> None:
        # Domain history rows inserted in bulk (other organizations' claims that ended).
        if state.is_insert and state.bind_mapper is not None \
                and state.bind_mapper.class_ is DomainEvent:
            rows = state.parameters if isinstance(state.parameters, list) else [state.parameters]
            session = state.session
            for row in rows or []:
                session.info.setdefault(PENDING, []).append(_domain(row))

    @event.listens_for(factory, "before_commit")
    def _write(session: Session) -> None:
        session.flush()  # the last changes' events are queued by this flush
        pending = session.info.pop(PENDING, None)
        if not pending:
            return
        _complete(session, pending)
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
        now = datetime.now(UTC)
        session.execute(insert(Event), [{"created_at": now, **e} for e in pending])

    @event.listens_for(factory, "after_soft_rollback")
    def _forget(session: Session, _previous: Any) -> None:
        session.info.pop(PENDING, None)


def _created(objects: Any) -> Iterator[dict[str, Any]]:
    from hostplane.domains.models import DomainEvent
    from hostplane.resources.models import DeploymentVersion

    for obj in objects:
        if isinstance(obj, DomainEvent):
            yield _domain({c: getattr(obj, c) for c in
                           ("tenant_id", "subject", "domain", "from_status", "to_status",
                            "detail")})
        elif isinstance(obj, DeploymentVersion):
            verb = "published" if obj.state == "ready" else obj.state
            yield _about(obj, "deployment", f"deployment.version.{verb}",
                         object_id=obj.deployment_id,
                         data={"version_id": obj.id, "version_number": obj.version_number})
        elif (kind := _kind(obj)) is not None:
            yield _about(obj, kind, f"{kind}.created", data=_state(obj))


def _changed(objects: Any) -> Iterator[dict[str, Any]]:
    from hostplane.resources.models import Deployment
    from hostplane.tenancy.models import Project
    from hostplane.tokens.models import BrowserToken

    for obj in objects:
        if isinstance(obj, BrowserToken):
            if _change(obj, "revoked_at")[0] and obj.revoked_at is not None:
                yield {"tenant_id": obj.tenant_id, "type": "browser_token.revoked",
                       "object_type": "browser_token", "object_id": obj.id,
                       "data": {"external_user_id": obj.external_user_id}}
            continue
        kind = _kind(obj)
        if kind is None:
            continue
        if getattr(obj, "destroyed_at", None) is not None and _change(obj, "destroyed_at")[0]:
            yield _about(obj, kind, f"{kind}.{_ENDED[kind]}")
        elif isinstance(obj, Deployment):
            moved, before = _change(obj, "active_version_id")
            if moved and obj.active_version_id:
                yield _about(obj, kind, "deployment.version.promoted",
                             data={"version_id": obj.active_version_id,
                                   "previous_version_id": before})
        elif isinstance(obj, Project) and _change(obj, "workspace_id")[0]:
            yield _about(obj, kind, "project.moved",
                         data={"from_workspace_id": _change(obj, "workspace_id")[1]})
        elif hasattr(obj, "state"):
            changed, before = _change(obj, "state")
            if changed and obj.state in _STATES:
                verb = "resumed" if (obj.state, before) == ("running", "paused") \
                    else _STATES[obj.state]
                yield _about(obj, kind, f"{kind}.{verb}", data=_state(obj, before))
        elif _change(obj, "name")[0]:
            yield _about(obj, kind, f"{kind}.updated", data={"name": obj.name})


def _deleted(objects: Any) -> Iterator[dict[str, Any]]:
    for obj in objects:
        if (kind := _kind(obj)) is not None:
            yield _about(obj, kind, f"{kind}.{_ENDED[kind]}")


def _kind(obj: Any) -> str | None:
    from hostplane.resources.models import Computer, Database, Deployment, Sandbox
    from hostplane.tenancy.models import Project, Workspace

    for model, kind in ((Sandbox, "sandbox"), (Computer, "computer"), (Database, "database"),
                        (Deployment, "deployment"), (Workspace, "workspace"),
                        (Project, "project")):
        if isinstance(obj, model):
            return kind
    return None


def _about(obj: Any, kind: str, type_: str, *, object_id: str | None = None,
           data: dict[str, Any] | None = None) -> dict[str, Any]:
    """An event about `obj`, with the workspace and project it lives in."""
    workspace_id = obj.id if kind == "workspace" else getattr(obj, "workspace_id", None)
    project_id = obj.id if kind == "project" else getattr(obj, "project_id", None)
    return {"tenant_id": obj.tenant_id, "type": type_, "object_type": kind,
            "object_id": object_id or obj.id, "workspace_id": workspace_id,
            "project_id": project_id,
            "external_workspace_id": getattr(obj, "external_workspace_id", None),
            "external_project_id": getattr(obj, "external_project_id", None),
            "data": data or {}}


def _domain(row: dict[str, Any]) -> dict[str, Any]:
    """A line of a domain's history (an exact domain's id, or tenant:preview|deployment)."""
    return {"tenant_id": row["tenant_id"], "type": f"domain.{row['to_status']}",
            "object_type": "domain", "object_id": row["subject"],
            "data": {"domain": row["domain"], "from_status": row.get("from_status"),
                     "status": row["to_status"], "detail": row.get("detail")}}


def _state(obj: Any, before: str | None = None) -> dict[str, Any]:
    state = getattr(obj, "state", None)
    found = {"state": state} if state is not None else {}
    if before is not None:
        found["previous_state"] = before
    if getattr(obj, "status_reason", None):
        found["reason"] = obj.status_reason
    return found


def _change(obj: Any, attribute: str) -> tuple[bool, Any]:
    """Whether this flush changed an attribute, and its value before (None if never loaded)."""
    history = inspect(obj).attrs[attribute].history
    return bool(history.added), (history.deleted[0] if history.deleted else None)


def _complete(session: Session, pending: list[dict[str, Any]]) -> None:
    """Fill in the external ids of the workspace and project each event lives in, and say
    whether a promotion went back to an older version (a rollback): one query per table."""
    from hostplane.resources.models import DeploymentVersion
    from hostplane.tenancy.models import Project, Workspace

    with session.no_autoflush:
        ws = _lookup(session, Workspace.id, Workspace.external_workspace_id,
                     {e["workspace_id"] for e in pending
                      if e.get("workspace_id") and not e.get("external_workspace_id")})
        ps = _lookup(session, Project.id, Project.external_project_id,
                     {e["project_id"] for e in pending
                      if e.get("project_id") and not e.get("external_project_id")})
        numbers = _lookup(session, DeploymentVersion.id, DeploymentVersion.version_number,
                          {v for e in pending if e["type"] == "deployment.version.promoted"
                           for v in (e["data"]["version_id"], e["data"]["previous_version_id"])
                           if v})
    for e in pending:
        e.setdefault("workspace_id", None)
        e.setdefault("project_id", None)
        e["external_workspace_id"] = e.get("external_workspace_id") or ws.get(e["workspace_id"])
        e["external_project_id"] = e.get("external_project_id") or ps.get(e["project_id"])
        if e["type"] == "deployment.version.promoted":
            new, old = (numbers.get(e["data"][k]) for k in ("version_id", "previous_version_id"))
            if new is not None and old is not None and new < old:
                e["type"] = "deployment.version.rolled_back"


def _lookup(session: Session, key: Any, value: Any, ids: set[str]) -> dict[Any, Any]:
    """`value` of the rows with these ids: from the session when it holds them loaded (a
    workspace created with its default project in this transaction, already flushed, so what
    it holds is what the database holds), the others with one query."""
    found: dict[Any, Any] = {}
    for object_id in ids:
        obj = session.identity_map.get(identity_key(key.class_, object_id))
        if obj is not None and value.key in obj.__dict__:  # loaded, not expired
            found[object_id] = obj.__dict__[value.key]
    rest = ids - found.keys()
    if rest:
        found.update((k, v) for k, v in session.execute(select(key, value).where(key.in_(rest))))
    return found
