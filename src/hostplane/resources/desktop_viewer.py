"""Viewer grants: who may open a computer's desktop in a browser (through the edge).

A grant is a browser token of kind `viewer`, recorded like every other (so it is listed and
revoked with them, `DELETE /browser-tokens/{id}`), limited to the one computer
(`sandbox_ids` = [computer id]), holding `computer:read` and, unless it is view-only,
`computer:control`. The edge checks it on every request and every 2 s while the viewer's
WebSocket is open, so a revocation closes the viewer within seconds. The viewer password of
the official client is a longer-lived grant of kind `viewer-password`: rotating it revokes every
grant of the computer (passwords and embeds alike) and returns a new one once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from hostplane import errors
from hostplane.db.base import new_id
from hostplane.db.scope import Scope
from hostplane.resources.common import get_resource
from hostplane.resources.env import Env
from hostplane.resources.models import Computer
from hostplane.tenancy.principal import Principal
from hostplane.tokens.models import BrowserToken
from hostplane.tokens.service import MAX_TTL, MIN_TTL
from hostplane.tokens.signing import AUDIENCE, KeyRing
from hostplane.urls import computer_urls
from hostplane.domains.tenant_domains import organization_domains

VIEWER, PASSWORD = "viewer", "viewer-password"
DEFAULT_TTL = 300
VIEW_MODES = ("view", "view_only", "view-only", "readonly", "read_only")
MODES = ("interactive", "control", "embed", *VIEW_MODES)
TOKEN_PARAM = "preview_token"  # the edge's one token parameter (edge/forwarding.py)


def embed(scope: Scope, *, by: Principal, computer_id: str, env: Env, ring: KeyRing,
          issuer: str, ttl: int | None, mode: str | None,
          view_only: bool | None) -> dict[str, Any]:
    computer = get_resource(scope, Computer, computer_id, "computer")
    if mode is not None and mode not in MODES:
        raise errors.Invalid(f"mode {mode!r} is not a viewer mode.", field="mode",
                             rule=f"one of {', '.join(MODES)}", fix="Send mode=interactive.")
    only_view = bool(view_only) or mode in VIEW_MODES
    ttl = DEFAULT_TTL if ttl is None else ttl
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise errors.Invalid(f"ttl {ttl} is out of range.", code="TTL_OUT_OF_RANGE",
                             field="ttl", rule=f"between {MIN_TTL} and {MAX_TTL} seconds",
                             fix=f"Use e.g. {DEFAULT_TTL} (5 minutes).")
    token, record = _grant(scope, by, computer, ring, issuer, env.now, ttl, only_view, VIEWER)
    return {"url": _url(scope, computer, env, token), "expires_at": record.expires_at,
            "mode": "view_only" if only_view else (mode or "interactive"),
            "view_only": only_view, "grant_id": record.id}


def password_state(scope: Scope, computer_id: str, env: Env) -> dict[str, Any]:
    computer = get_resource(scope, Computer, computer_id, "computer")
    live = [r for r in _grants(scope, computer) if r.kind == PASSWORD and r.revoked_at is None
            and r.expires_at > env.now]
    return {"set": bool(live), "expires_at": live[-1].expires_at if live else None}


def rotate_password(scope: Scope, by: Principal, computer_id: str, env: Env, ring: KeyRing,
                    issuer: str) -> dict[str, Any]:
    computer = get_resource(scope, Computer, computer_id, "computer")
    revoked = revoke_all(scope, computer, env.now)
    token, record = _grant(scope, by, computer, ring, issuer, env.now, MAX_TTL, False, PASSWORD)
    return {"password": token, "url": _url(scope, computer, env, token),
            "expires_at": record.expires_at, "revoked_grants": revoked}


def revoke_all(scope: Scope, computer: Computer, now: datetime) -> int:
    count = 0
    for record in _grants(scope, computer):
        if record.revoked_at is None and record.expires_at > now:
            record.revoked_at = now
            count += 1
    scope.session.flush()
    return count


def _grants(scope: Scope, computer: Computer) -> list[BrowserToken]:
    rows = scope.session.scalars(scope.select(BrowserToken).where(
        BrowserToken.kind.in_((VIEWER, PASSWORD)),
        BrowserToken.workspace_id == computer.workspace_id).order_by(BrowserToken.created_at))
    return [r for r in rows if computer.id in (r.sandbox_ids or ())]


def _grant(scope: Scope, by: Principal, computer: Computer, ring: KeyRing, issuer: str,
           now: datetime, ttl: int, view_only: bool, kind: str) -> tuple[str, BrowserToken]:
    if by.kind != "api_key":
        raise errors.Forbidden("A browser token can't grant viewers.", code="TOKEN_CANNOT_MINT",
                               fix="Ask for viewer URLs on your backend, with an API key.")
    granted = ["computer:read"] if view_only else ["computer:read", "computer:control"]
    jti, expires = new_id(), now + timedelta(seconds=ttl)
    claims: dict[str, Any] = {
        "iss": issuer, "aud": AUDIENCE, "sub": f"viewer:{jti}", "tid": scope.tenant_id,
        "wid": computer.workspace_id, "pid": computer.project_id, "perms": granted,
        "iat": now, "nbf": now, "exp": expires, "jti": jti, "sbx": [computer.id]}
    token, kid = ring.sign(claims, scope.session, now)
    record = BrowserToken(
        id=jti, tenant_id=scope.tenant_id, kind=kind, key_id=kid, issued_by=by.subject_id,
        external_user_id=None, workspace_id=computer.workspace_id,
        project_id=computer.project_id, external_workspace_id=computer.external_workspace_id,
        permissions=granted, sandbox_ids=[computer.id], ports=None, created_at=now,
        expires_at=expires)
    scope.add(record)
    scope.session.flush()
    return token, record


def _url(scope: Scope, computer: Computer, env: Env, token: str) -> str:
    urls = computer_urls(env.platform, organization_domains(scope), computer.slug)
    return f"{urls.desktop_url}?{TOKEN_PARAM}={quote(token)}"


