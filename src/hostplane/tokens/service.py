"""Minting, listing and revoking browser tokens, and checking a presented one is still alive.

Only an API key mints, and only for what it holds itself; the token names one workspace (and
perhaps a project, sandboxes and preview ports) of the key's organization, one external user,
and lives 30 s to 24 h. Every token is recorded (never the token itself), so it can be listed and
revoked one by one or all of a user's at once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, bindparam, select, update

from hostplane import errors
from hostplane.db.base import new_id
from hostplane.db.helpers import Page, paginate, try_insert
from hostplane.db.scope import Limit, Scope
from hostplane.events import recorder
from hostplane.keys.models import ApiKey
from hostplane.resources.models import Sandbox
from hostplane.tenancy import permissions
from hostplane.tenancy.models import Project, Tenant, Workspace
from hostplane.tenancy.principal import Principal
from hostplane.tenancy.projects import get_project
from hostplane.tenancy.workspaces import get_workspace
from hostplane.tokens.models import BrowserToken, UserRevocation
from hostplane.tokens.signing import AUDIENCE, KeyRing

MIN_TTL, MAX_TTL, DEFAULT_TTL = 30, 86_400, 900


@dataclass(frozen=True)
class MintRequest:
    kind: str  # browser | scoped
    permissions: list[str] | None
    ttl_seconds: int
    workspace_id: str | None = None
    project_id: str | None = None
    external_workspace_id: str | None = None
    external_project_id: str | None = None
    external_user_id: str | None = None
    sandbox_ids: list[str] | None = None
    ports: list[int] | None = None
    permissions_field: str = "permissions"


@dataclass(frozen=True)
class Minted:
    record: BrowserToken
    token: str


def mint(scope: Scope, by: Principal, req: MintRequest, ring: KeyRing, issuer: str,
         now: datetime) -> Minted:
    if by.kind != "api_key":
        raise errors.Forbidden("A browser token can't mint tokens.", code="TOKEN_CANNOT_MINT",
                               fix="Mint browser tokens on your backend, with an API key.")
    wanted = req.permissions
    if wanted is None:  # the scoped-token route: everything the key may hand to a browser
        wanted = sorted(p for p in permissions.BROWSER if by.can(p))
    granted = permissions.check_browser(wanted, field=req.permissions_field)
    if not granted:
        raise errors.Invalid("A browser token needs at least one permission.",
                             field=req.permissions_field, rule="at least one permission",
                             fix="Ask for e.g. ['sandbox:read', 'preview:read'].")
    missing = [p for p in granted if not by.can(p)]
    if missing:
        raise errors.Forbidden(
            f"This API key can't grant {', '.join(map(repr, missing))}: it doesn't hold it.",
            code="PERMISSION_DENIED", field=req.permissions_field,
            details={"missing": missing},
            fix="Ask only for permissions the minting key holds.")
    if not MIN_TTL <= req.ttl_seconds <= MAX_TTL:
        raise errors.Invalid(f"ttl_seconds {req.ttl_seconds} is out of range.",
                             code="TTL_OUT_OF_RANGE", field="ttl_seconds",
                             rule=f"between {MIN_TTL} and {MAX_TTL} seconds",
                             fix=f"Use e.g. {DEFAULT_TTL} (15 minutes).")
    workspace, project = _where(scope, req)
    if "sandbox:exec" in granted and project is None and not req.sandbox_ids:
        raise errors.Invalid("sandbox:exec needs a project or a list of sandboxes.",
                             code="SCOPE_TOO_WIDE", field="project_id",
                             rule="a token that runs commands names its project or sandboxes",
                             fix="Add project_id (or sandbox_ids).")
    sandbox_ids = _sandboxes(scope, req.sandbox_ids, workspace, project)
    jti, expires = new_id(), now + timedelta(seconds=req.ttl_seconds)
    claims: dict[str, Any] = {
        "iss": issuer, "aud": AUDIENCE, "sub": req.external_user_id or f"token:{jti}",
        "tid": scope.tenant_id, "wid": workspace.id, "pid": project.id if project else None,
        "perms": granted, "iat": now, "nbf": now, "exp": expires, "jti": jti,
    }
    if sandbox_ids is not None:
        claims["sbx"] = sandbox_ids
    if req.ports is not None:
        claims["ports"] = sorted(set(req.ports))
    token, kid = ring.sign(claims, scope.session, now)
    record = BrowserToken(
        id=jti, tenant_id=scope.tenant_id, kind=req.kind, key_id=kid, issued_by=by.subject_id,
        external_user_id=req.external_user_id, workspace_id=workspace.id,
        project_id=project.id if project else None,
        external_workspace_id=workspace.external_workspace_id, permissions=granted,
        sandbox_ids=sandbox_ids, ports=claims.get("ports"), created_at=now, expires_at=expires)
    scope.add(record)
    scope.session.flush()
    return Minted(record, token)


def _where(scope: Scope, req: MintRequest) -> tuple[Workspace, Project | None]:
    """The workspace (and project) the token is for; looked up, never created."""
    workspace = _by_external(scope, Workspace, req.external_workspace_id,
                             _named(get_workspace, scope, req.workspace_id, "workspace_id"))
    project = _by_external(scope, Project, req.external_project_id,
                           _named(get_project, scope, req.project_id, "project_id"))
    if project is not None:
        if workspace is not None and project.workspace_id != workspace.id:
            raise errors.Invalid("The project is not in that workspace.",
                                 code="SELECTOR_CONFLICT", field="project_id",
                                 rule="the token's project must be in its workspace",
                                 fix="Send the project's own workspace, or only the project.")
        workspace = workspace or get_workspace(scope, project.workspace_id)
    if workspace is None:
        raise errors.Invalid("A browser token is for one workspace (or project).",
                             code="SCOPE_REQUIRED", field="workspace_id",
                             rule="workspace_id, external_workspace_id or project_id is required",
                             fix="Send the workspace_id (or project_id) the end user works in.")
    return workspace, project


def _by_external(scope: Scope, model: Any, external_id: str | None, found: Any) -> Any:
    """The workspace or project with this external id (which must agree with `found`, the one
    named by id), or `found` when no external id is given."""
    if not external_id:
        return found
    what = model.__name__.lower()
    field = f"external_{what}_id"
    match = scope.find(model, **{field: external_id})
    if match is None or (found is not None and found.id != match.id):
        raise errors.NotFound(f"No {what} with {field} {external_id!r} here.",
                              code=f"{what.upper()}_NOT_FOUND", field=field,
                              fix=f"Send the {what}_id of one of your own.")
    return match


def _named(get: Any, scope: Scope, object_id: str | None, field: str) -> Any:
    """get(scope, id), with a 404 that names the field it came from."""
    if object_id is None:
        return None
    try:
        return get(scope, object_id)
    except errors.NotFound as exc:
        raise errors.NotFound(exc.message, code=exc.code, field=field,
                              fix=f"Send the {field} of one of your own.") from None


def _sandboxes(scope: Scope, wanted: list[str] | None, workspace: Workspace,
               project: Project | None) -> list[str] | None:
    if wanted is None:
        return None
    ids = sorted(set(wanted))
    found = set(scope.session.scalars(
        select(Sandbox.id).where(Sandbox.tenant_id == scope.tenant_id, Sandbox.id.in_(ids),
                                 Sandbox.workspace_id == workspace.id,
                                 Sandbox.destroyed_at.is_(None),
                                 *([Sandbox.project_id == project.id] if project else []))
    )) if ids else set()
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise errors.NotFound(f"No sandbox {unknown[0]!r} in the token's workspace or project.",
                              code="SANDBOX_NOT_FOUND", field="sandbox_ids",
                              fix="List sandboxes of that workspace or project only.")
    return ids


def list_tokens(scope: Scope, *, limit: int, cursor: str | None, offset: int,
                external_user_id: str | None = None) -> Page[BrowserToken]:
    stmt = scope.select(BrowserToken)
    if external_user_id is not None:
        stmt = stmt.where(BrowserToken.external_user_id == external_user_id)
    return paginate(scope.session, stmt, BrowserToken, limit=limit, cursor=cursor, offset=offset)


def revoke(scope: Scope, token_id: str, now: datetime) -> BrowserToken:
    record = scope.get(BrowserToken, token_id, what="browser token")
    record.revoked_at = record.revoked_at or now
    scope.session.flush()
    return record


def revoke_user(scope: Scope, external_user_id: str, now: datetime) -> int:
    """Every token this user holds now dies (tokens minted later are not affected)."""
    mark = scope.find(UserRevocation, external_user_id=external_user_id)
    if mark is None:
        mark = UserRevocation(id=new_id(), tenant_id=scope.tenant_id,
                              external_user_id=external_user_id, revoked_before=now)
        if not try_insert(scope.session, mark):
            mark = scope.find(UserRevocation, external_user_id=external_user_id)
    assert mark is not None
    mark.revoked_before = max(mark.revoked_before, now)
    result = scope.session.execute(
        update(BrowserToken)
        .where(BrowserToken.tenant_id == scope.tenant_id,
               BrowserToken.external_user_id == external_user_id,
               BrowserToken.revoked_at.is_(None), BrowserToken.expires_at > now)
        .values(revoked_at=now).execution_options(synchronize_session=False))
    scope.session.flush()
    recorder.emit(scope.session, scope.tenant_id, "browser_token.revoked", "external_user",
                  external_user_id, data={"external_user_id": external_user_id,
                                          "tokens": result.rowcount or 0})
    return result.rowcount or 0


@functools.cache
def _principal_statement() -> Any:
    """The one query of every browser-token request, built once (a four-table join took as
    long to build as to run); the token's id and organization are bound at execution."""
    return (
        select(BrowserToken, UserRevocation.revoked_before, Tenant.settings,
               ApiKey.status.label("key_status"), ApiKey.expires_at.label("key_expires_at"),
               ApiKey.scopes.label("key_scopes"))
        .join(Tenant, Tenant.id == BrowserToken.tenant_id)
        .outerjoin(ApiKey, and_(ApiKey.id == BrowserToken.issued_by,
                                ApiKey.tenant_id == BrowserToken.tenant_id))
        .outerjoin(UserRevocation, and_(
            UserRevocation.tenant_id == BrowserToken.tenant_id,
            UserRevocation.external_user_id == BrowserToken.external_user_id))
        .where(BrowserToken.id == bindparam("jti"), BrowserToken.tenant_id == bindparam("tid"))
    )


def principal_for(session: Any, claims: dict[str, Any], kid: str, now: datetime) -> Principal:
    """The caller a verified token stands for, built from the token's record (not from its
    claims: what a token may do is what was granted when it was minted, whoever later holds a
    signing key), if it is still alive: not revoked by id or by user, signed by the key that
    minted it, and its minting API key still active; its permissions also shrink with that key's.
    One query."""
    row = session.execute(_principal_statement(),
                          {"jti": claims["jti"], "tid": claims["tid"]}).first()
    record = row[0] if row is not None else None
    if record is None or record.key_id != kid or record.expires_at <= now:
        raise errors.Unauthenticated("The browser token is not valid: it is not one this "
                                     "platform issued.", code="INVALID_TOKEN",
                                     fix="Ask your backend for a new browser token.")
    minter_gone = row.key_status != "active" or (
        row.key_expires_at is not None and row.key_expires_at <= now)
    if record.revoked_at is not None or minter_gone or (
            row.revoked_before is not None and record.created_at <= row.revoked_before):
        raise errors.Unauthenticated(
            "The browser token has been revoked" + (" (the API key that minted it was revoked)"
                                                    if minter_gone else "") + ".",
            code="TOKEN_REVOKED", fix="Ask your backend for a new browser token.")
    held = frozenset(row.key_scopes or ())
    granted = frozenset(p for p in record.permissions
                        if p in permissions.BROWSER and permissions.grants(held, p))
    limit = Limit(workspace_id=record.workspace_id or "", project_id=record.project_id,
                  sandbox_ids=tuple(record.sandbox_ids) if record.sandbox_ids is not None
                  else None,
                  ports=tuple(record.ports) if record.ports is not None else None,
                  external_user_id=record.external_user_id)
    origins = tuple((row.settings or {}).get("browser_origins") or ())
    session.expunge(record)
    return Principal(tenant_id=record.tenant_id, kind="browser_token", subject_id=record.id,
                     scopes=granted, external_user_id=record.external_user_id, limit=limit,
                     origins=origins)


def set_origins(scope: Scope, origins: list[str]) -> list[str]:
    """The web origins browser tokens of this organization may be used from (CORS)."""
    clean = [_origin(value, f"origins[{i}]") for i, value in enumerate(origins)]
    tenant = scope.tenant()
    tenant.settings = {**(tenant.settings or {}), "browser_origins": list(dict.fromkeys(clean))}
    scope.session.flush()
    return tenant.settings["browser_origins"]


def get_origins(scope: Scope) -> list[str]:
    return list((scope.tenant().settings or {}).get("browser_origins") or [])


LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


def _origin(value: str, field: str) -> str:
    parsed = urlsplit(value.strip())
    host = (parsed.hostname or "").lower()
    shown = f"[{host}]" if ":" in host else host
    secure = parsed.scheme == "https" or (parsed.scheme == "http" and shown in LOOPBACK)
    if not host or not secure or parsed.path not in ("", "/") or parsed.query \
            or parsed.fragment or parsed.username or parsed.password:
        raise errors.Invalid(f"{value!r} is not a web origin this API accepts.",
                             code="INVALID_ORIGIN", field=field,
                             rule="scheme://host[:port] with https (http only for localhost), "
                                  "no path",
                             fix="e.g. 'https://app.cliniciq.com'.")
    try:
        port = parsed.port
    except ValueError:
        raise errors.Invalid(f"{value!r} has an invalid port.", code="INVALID_ORIGIN",
                             field=field, rule="a port from 1 to 65535",
                             fix="e.g. 'https://app.cliniciq.com:8443'.") from None
    return f"{parsed.scheme}://{shown}" + (f":{port}" if port else "")
