"""Recording and reading audit events. What a change was is read from its route: the resource is
the one whose id the route names last (or, for a create, the id in the response), the verb is
the method or the action the route ends with (`/verify`, `/exec`, `/rotate`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from hostplane.audit.models import AuditEvent
from hostplane.db.helpers import Page, paginate
from hostplane.db.scope import Scope
from hostplane.tenancy.permissions import PERMISSIONS
from hostplane.tenancy.principal import Principal

_VERBS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete", "GET": "get"}
# A route ending in one of these does that to the resource before it.
_ACTIONS = {"verify", "exec", "rotate", "expose", "switch", "move", "revoke-user", "stop", "start", "restart",
            "pause", "resume", "publish", "promote", "rollback", "test", "rotate-secret"}
# Path placeholders whose name is not the resource's.
_PARAMS = {"id_or_slug": "tenant", "tenant_id": "tenant", "key_id": "api_key",
           "domain_id": "custom_domain", "token_id": "browser_token",
           "version_id": "deployment_version", "process_id": "sandbox_process"}
# Path words whose singular is not the resource's name.
_WORDS = {"domains": "custom_domain", "custom-domains": "custom_domain",
          "versions": "deployment_version", "processes": "sandbox_process"}
# Routes the general rule would name wrongly, and POST routes that only read.
_OVERRIDES = {
    ("POST", "/sandboxes/{sandbox_id}/fs/write"): ("sandbox", "write_file"),
    ("POST", "/sandboxes/{sandbox_id}/files"): ("sandbox", "write_file"),
    ("POST", "/sandboxes/{sandbox_id}/exec/stream"): ("sandbox", "exec"),
    ("PUT", "/workspaces/{workspace_id}/settings"): ("workspace", "update_settings"),
    ("POST", "/tokens/browser"): ("browser_token", "create"),
    ("POST", "/tokens/scoped"): ("browser_token", "create"),
    ("PUT", "/tenant/branding/wallpaper"): ("branding", "upload_wallpaper"),
    ("PUT", "/tenant/branding/logo"): ("branding", "upload_logo"),
}
READS = {("POST", "/sandboxes/{sandbox_id}/fs/stat"),
         ("POST", "/sandboxes/{sandbox_id}/files/stat"),
         ("POST", "/computers/{computer_id}/desktop/screenshot/region"),
         ("POST", "/computers/{computer_id}/desktop/wait")}
# Paths beneath a computer that act on its desktop or its viewer, not on a resource of their own.
_COMPUTER_PARTS = {"desktop", "viewer-password"}


@dataclass(frozen=True)
class Change:
    action: str
    resource_type: str
    resource_id: str | None


def describe(method: str, route: str, prefix: str, params: dict[str, Any],
             response: bytes | None) -> Change | None:
    """What a successful write did (None: the route only reads). `route` is the template."""
    relative = "/" + route[len(prefix):].lstrip("/")
    if (method, relative) in READS:
        return None
    parts = [p for p in relative.split("/") if p]
    if parts[:1] == ["computers"] and len(parts) > 3 and parts[2] in _COMPUTER_PARTS:
        # What an agent or a viewer does to a computer: …/desktop/click → computer.desktop_click
        words = [p for p in parts[2:] if not p.startswith("{")]
        return Change("computer." + "_".join(words[:2]).replace("-", "_"), "computer",
                      str(params.get("computer_id", "")) or None)
    resource, resource_id, verb = "organization", None, _VERBS.get(method, method.lower())
    for index, part in enumerate(parts):
        if part.startswith("{"):
            name = part[1:-1]
            resource = _PARAMS.get(name, name.removesuffix("_id"))
            resource_id = str(params.get(name, "")) or None
        elif index == len(parts) - 1 and index > 0 and part in _ACTIONS:
            verb = part.replace("-", "_")  # …/{id}/exec → sandbox.exec
        else:
            resource, resource_id = _WORDS.get(part, _singular(part)), None
    override = _OVERRIDES.get((method, relative))
    if override is not None:
        resource, verb = override
        last = next((p[1:-1] for p in reversed(parts) if p.startswith("{")), None)
        resource_id = str(params.get(last, "")) or None if last else None
    if resource_id is None and response:
        resource_id = _created_id(response)
    return Change(f"{resource}.{verb}", resource, resource_id)


# Resource names, as the permission vocabulary spells them (and a few more path words).
KNOWN = {p.split(":")[0] for p in PERMISSIONS} | {"custom_domain", "tenant", "file", "event",
                                                  "token", "key"}


def _singular(segment: str) -> str:
    segment = segment.replace("-", "_")
    for candidate in (segment[:-3] + "y", segment[:-2], segment[:-1]):
        if segment.endswith("s") and candidate in KNOWN:
            return candidate
    return segment


def _created_id(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict):
        inner = data.get("data", data)
        if isinstance(inner, dict) and isinstance(inner.get("id"), str):
            return inner["id"]
    return None


def record(session: Session, principal: Principal, change: Change, method: str, route: str,
           status_code: int, request_id: str, now: datetime) -> None:
    session.add(AuditEvent(
        tenant_id=principal.tenant_id, actor_type=principal.kind, actor_id=principal.subject_id,
        external_user_id=principal.external_user_id, action=change.action[:80], method=method,
        route=route[:200], resource_type=change.resource_type[:40],
        resource_id=change.resource_id[:200] if change.resource_id else None,
        status_code=status_code, request_id=request_id[:140], created_at=now))


@dataclass(frozen=True)
class AuditFilters:
    actor_id: str | None = None
    external_user_id: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_events(scope: Scope, filters: AuditFilters, *, limit: int, cursor: str | None,
                offset: int) -> Page[AuditEvent]:
    stmt = scope.select(AuditEvent)
    for name in ("actor_id", "external_user_id", "resource_type", "resource_id", "action"):
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(AuditEvent, name) == value)
    if filters.since is not None:
        stmt = stmt.where(AuditEvent.created_at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(AuditEvent.created_at < filters.until)
    return paginate(scope.session, stmt, AuditEvent, limit=limit, cursor=cursor, offset=offset)
