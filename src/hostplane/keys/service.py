"""API keys: minted with a random secret shown once, stored as SHA-256, managed by the organization.

A key carries 32 random bytes, so a plain SHA-256 is a safe one-way store (no password stretching is
needed) and lets each request find its key with one indexed lookup (keys/auth.py). Every change
that affects authentication is announced with key_changed, so caches forget the key at commit.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from hostplane import errors
from hostplane.db.helpers import Page, paginate
from hostplane.db.scope import Scope
from hostplane.keys.cache import key_changed
from hostplane.keys.models import ApiKey
from hostplane.tenancy import permissions
from hostplane.tenancy.principal import Principal

SECRET_PREFIX = "msk_live_"
_DISPLAY_CHARS = 16


def generate_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    session: Session,
    *,
    tenant_id: str,
    name: str,
    scopes: list[str] | None = None,
    expires_at: datetime | None = None,
    granted_by: Principal | None = None,
) -> tuple[ApiKey, str]:
    """A new key for the organization. A key can only hand on permissions it holds itself."""
    wanted = permissions.check_known(scopes if scopes is not None else [permissions.ALL])
    if granted_by is not None:
        _check_grantable(wanted, granted_by)
    secret = generate_secret()
    key = ApiKey(
        tenant_id=tenant_id,
        name=name,
        key_prefix=secret[:_DISPLAY_CHARS],
        key_hash=hash_secret(secret),
        scopes=wanted,
        status="active",
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key, secret


def mint_key(
    scope: Scope,
    *,
    name: str,
    scopes: list[str] | None,
    expires_at: datetime | None,
    granted_by: Principal,
) -> tuple[ApiKey, str]:
    """A new key of the caller's organization, with at most the caller's permissions."""
    return create_key(scope.session, tenant_id=scope.tenant_id, name=name, scopes=scopes,
                      expires_at=expires_at, granted_by=granted_by)


def _check_grantable(wanted: list[str], by: Principal) -> list[str]:
    """A key can only hand on, or manage keys with, permissions it holds itself."""
    missing = [s for s in wanted if not by.can(s)]
    if missing:
        raise errors.Forbidden(
            "A key cannot grant or manage permissions it does not hold: "
            + ", ".join(missing) + ".",
            code="PERMISSION_DENIED",
            field="scopes",
            fix="Request only permissions the calling key holds.",
        )
    return wanted


def get_key(scope: Scope, key_id: str) -> ApiKey:
    return scope.get(ApiKey, key_id, what="api key")


def list_keys(
    scope: Scope, *, limit: int, cursor: str | None, offset: int, status: str | None
) -> Page[ApiKey]:
    stmt = scope.select(ApiKey)
    if status:
        stmt = stmt.where(ApiKey.status == status)
    return paginate(scope.session, stmt, ApiKey, limit=limit, cursor=cursor, offset=offset)


def update_key(
    scope: Scope,
    key_id: str,
    *,
    name: str | None,
    scopes: list[str] | None,
    status: str | None,
    by: Principal,
    now: datetime,
) -> ApiKey:
    key = get_key(scope, key_id)
    _check_grantable(list(key.scopes), by)
    if name is not None:
        key.name = name
    if scopes is not None:
        key.scopes = _check_grantable(permissions.check_known(scopes), by)
        key_changed(scope.session, key.key_hash)
    if status == "revoked":
        revoke_key(scope, key_id, now=now, by=by)
    elif status == "active" and key.status != "active":
        raise errors.Conflict(
            "A revoked key cannot be made active again.",
            code="API_KEY_REVOKED",
            field="status",
            fix="Create a new key instead.",
        )
    scope.session.flush()
    return key


def revoke_key(scope: Scope, key_id: str, *, now: datetime, by: Principal) -> ApiKey:
    """Revoke at once: the next request with this key is refused. A caller can only manage keys
    that hold no permission it lacks itself."""
    key = get_key(scope, key_id)
    _check_grantable(list(key.scopes), by)
    if key.status != "revoked":
        key.status, key.revoked_at = "revoked", now
        key_changed(scope.session, key.key_hash)
        scope.session.flush()
    return key


def rotate_key(scope: Scope, key_id: str, *, by: Principal) -> tuple[ApiKey, str]:
    """A new secret for the same key id; the old secret stops working immediately. Only a caller
    holding every permission of the key may rotate it (the new secret carries them all)."""
    key = get_key(scope, key_id)
    _check_grantable(list(key.scopes), by)
    if key.status != "active":
        raise errors.Conflict(
            "A revoked key cannot be rotated.", code="API_KEY_REVOKED", fix="Create a new key."
        )
    secret = generate_secret()
    key_changed(scope.session, key.key_hash)
    key.key_prefix, key.key_hash = secret[:_DISPLAY_CHARS], hash_secret(secret)
    scope.session.flush()
    return key, secret
